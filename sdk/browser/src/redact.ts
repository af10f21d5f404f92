/** Privacy defaults for recorded headers and bodies (shared/product-brief.md). */

export const REDACTED = '[REDACTED]'

const HEADERS = new Set(
  'authorization cookie set-cookie proxy-authorization token x-api-key x-csrf-token x-xsrf-token x-forwarded-for x-real-ip'.split(
    ' ',
  ),
)

export const BODY_KEYS =
  'password passwd secret token api_key apikey access_token refresh_token authorization credit_card card_number cvv ssn'.split(
    ' ',
  )

/**
 * Lower-cased copy of `headers` with sensitive values replaced by `[REDACTED]`;
 * `more` holds extra lower-case names to redact.
 */
export function redactHeaders(
  headers: Iterable<[string, string]>,
  more: Set<string>,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of headers) {
    const name = k.toLowerCase()
    const hide =
      HEADERS.has(name) || more.has(name) || /secret|password|token/.test(name)
    out[name] = hide ? REDACTED : v
  }
  return out
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Redacts `keys` (lower case) at any depth of a JSON body, or in form/JSON-looking text. */
export function redactBody(text: string, keys: Set<string>): string {
  const t = text.trim()
  if (t[0] === '{' || t[0] === '[') {
    try {
      return JSON.stringify(walk(JSON.parse(t), keys))
    } catch {
      // truncated or not JSON: fall through to the textual rules
    }
  }
  const alt = [...keys].map(escape).join('|')
  return text
    .replace(
      new RegExp(`("(?:${alt})"\\s*:\\s*)("(?:[^"\\\\]|\\\\.)*(?:"|$)|[^,}\\]\\s]+)`, 'gi'),
      `$1"${REDACTED}"`,
    )
    .replace(new RegExp(`(^|[&?])(${alt})=[^&]*`, 'gi'), `$1$2=${REDACTED}`)
}

function walk(v: unknown, keys: Set<string>): unknown {
  if (Array.isArray(v)) return v.map((x) => walk(x, keys))
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>
    for (const k of Object.keys(o)) o[k] = keys.has(k.toLowerCase()) ? REDACTED : walk(o[k], keys)
  }
  return v
}

const enc = new TextEncoder()
export const byteLength = (s: string): number => enc.encode(s).length

/** Cuts `s` to at most `limit` UTF-8 bytes; the flag tells whether it was cut. */
export function capBytes(s: string, limit: number): [string, boolean] {
  if (s.length * 3 <= limit || byteLength(s) <= limit) return [s, false]
  let cut = s.slice(0, limit)
  while (byteLength(cut) > limit) cut = cut.slice(0, Math.floor(cut.length * 0.9))
  return [cut, true]
}
