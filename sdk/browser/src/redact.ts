/**
 * Privacy defaults for recorded headers and bodies. The server applies the same rule again
 * to what reaches it from other clients (server/src/backlight_server/pipeline/redact.py);
 * both are tested against tests/vectors/redaction.json.
 *
 * - a name (header name, body key) is normalised: lower-cased, `-`, `_`, `.` and spaces
 *   removed;
 * - it is sensitive when the normalised name is one of EXACT or contains one of CONTAINS;
 * - a name sensitive only because it contains `tokens` or `tokencount` (a token count:
 *   `max_tokens`, `promptTokenCount`) keeps a number value; anything else under it is redacted;
 * - the value under a sensitive name is replaced whole by `[REDACTED]`, whatever it is.
 *
 * Bodies are scanned as text in one forward pass: JSON keeps its formatting, a cut or
 * invalid JSON text is redacted the same way (a value cut short is redacted to the end), a
 * string value that holds JSON is redacted inside (one level deep), text that does not start
 * with `{` or `[` is also read as `key=value&…` pairs, and the cost is linear in the text.
 */

export const REDACTED = '[REDACTED]'
export const IGNORED_IN_NAMES = '-_. '
export const EXACT: ReadonlySet<string> = new Set(['auth', 'cvc', 'cvv', 'forwarded', 'ssn', 'xforwardedfor', 'xrealip'])
export const CONTAINS: readonly string[] = [
  'apikey',
  'authorization',
  'cardnumber',
  'cookie',
  'creditcard',
  'csrf',
  'jwt',
  'passphrase',
  'passwd',
  'password',
  'privatekey',
  'secret',
  'token',
  'xsrf',
]
export const COUNT_WORDS: readonly string[] = ['tokencount', 'tokens']

export const KEEP = 0
export const HIDE = 1
export const COUNT = 2
export type Verdict = typeof KEEP | typeof HIDE | typeof COUNT

const matches = (n: string): boolean => EXACT.has(n) || CONTAINS.some((w) => n.includes(w))

function classify(name: string): Verdict {
  const n = name.toLowerCase().replace(/[-_. ]/g, '')
  if (!matches(n)) return KEEP
  if (n.includes('token')) {
    let rest = n
    for (const w of COUNT_WORDS) rest = rest.split(w).join('')
    if (!matches(rest)) return COUNT
  }
  return HIDE
}

const memo = new Map<string, Verdict>()

/** KEEP, HIDE or COUNT for a header name or body key (memoised, bounded). */
export function nameRule(name: string): Verdict {
  let v = memo.get(name)
  if (v === undefined) {
    v = classify(name)
    if (name.length <= 128) {
      if (memo.size >= 4096) memo.clear()
      memo.set(name, v)
    }
  }
  return v
}

/** `more` holds extra lower-case names, matched whole. */
const withExtra = (more: ReadonlySet<string>): ((name: string) => Verdict) =>
  more.size ? (name) => (more.has(name.toLowerCase()) ? HIDE : nameRule(name)) : nameRule

const NUMBER = /^-?[0-9][0-9.eE+-]*$/

/**
 * Lower-cased copy of `headers` with sensitive values replaced by `[REDACTED]`;
 * `more` holds extra lower-case names to redact.
 */
export function redactHeaders(headers: Iterable<[string, string]>, more: ReadonlySet<string>): Record<string, string> {
  const rule = withExtra(more)
  const out: Record<string, string> = {}
  for (const [k, v] of headers) {
    const verdict = rule(k)
    const hide = verdict === HIDE || (verdict === COUNT && !NUMBER.test(v))
    out[k.toLowerCase()] = hide ? REDACTED : v
  }
  return out
}

// --- bodies ---------------------------------------------------------------------------------

const COLON = /[ \t\n\r]*:[ \t\n\r]*/y
const SCALAR = /[^,}\] \t\n\r]*/y
const PLAIN = /[^"{}[\]]*/y
const JSONISH = /^[ \t\n\r\ufeff]*[[{]/
const ESCAPE = /%([0-7][0-9A-Fa-f])/g

/** End of the JSON string opening at `start`; -1 if it is not closed. */
function stringEnd(text: string, start: number): number {
  let p = start
  for (;;) {
    const q = text.indexOf('"', p + 1)
    if (q < 0) return -1
    let k = q - 1
    while (k > p && text.charCodeAt(k) === 92) k--
    if ((q - 1 - k) % 2 === 0) return q + 1
    p = q // escaped: the run of backslashes before the next quote lies after this one
  }
}

/** End of the object or array opening at `start` (the text's end if it is cut). */
function nestedEnd(text: string, start: number): number {
  let depth = 0
  let j = start
  for (;;) {
    PLAIN.lastIndex = j
    PLAIN.exec(text)
    j = PLAIN.lastIndex
    if (j >= text.length) return text.length
    const ch = text[j]
    if (ch === '"') {
      j = stringEnd(text, j)
      if (j < 0) return text.length
      continue
    }
    depth += ch === '{' || ch === '[' ? 1 : -1
    j += 1
    if (depth <= 0) return j
  }
}

/** The text of a closed JSON string token, escapes decoded when they are valid. */
function keyOf(token: string): string {
  if (!token.includes('\\')) return token.slice(1, -1)
  try {
    const v: unknown = JSON.parse(token)
    return typeof v === 'string' ? v : token.slice(1, -1)
  } catch {
    return token.slice(1, -1)
  }
}

/** A cut string token closed: an escape cut short at its end is dropped first. */
function closed(token: string): string {
  const b = token.lastIndexOf('\\')
  if (b > 0 && b >= token.length - 6) {
    let k = b
    while (k >= 0 && token.charCodeAt(k) === 92) k--
    const run = b - k // backslashes ending at b
    const escape = token.slice(b)
    if (run % 2 && (escape.length < 2 || (escape[1] === 'u' && escape.length < 6))) token = token.slice(0, b)
  }
  return token + '"'
}

/**
 * A string value holding JSON (`"{\"password\": …}"`), redacted and encoded again; null
 * when it holds none or nothing in it changes. One level deep only. A `cut` token (no
 * closing quote, the text ends) stays without one.
 */
function embeddedJson(token: string, rule: (name: string) => Verdict, cut = false): string | null {
  if (cut) token = closed(token)
  let inner: unknown
  try {
    inner = JSON.parse(token)
  } catch {
    return null
  }
  if (typeof inner !== 'string') return null
  const out = jsonPass(inner, rule, false)
  if (out === inner) return null
  const again = JSON.stringify(out)
  return cut ? again.slice(0, -1) : again
}

function jsonPass(text: string, rule: (name: string) => Verdict, embedded = true): string {
  const parts: string[] = []
  let last = 0
  let pos = 0
  const n = text.length
  for (;;) {
    const q = text.indexOf('"', pos)
    if (q < 0) break
    const end = stringEnd(text, q)
    const holdsJson = embedded && (text[q + 1] === '{' || text[q + 1] === '[')
    if (end < 0) {
      // the rest of the text is inside a string
      if (holdsJson && text.slice(q).includes('\\"')) {
        const again = embeddedJson(text.slice(q), rule, true)
        if (again !== null) {
          parts.push(text.slice(last, q), again)
          last = n
        }
      }
      break
    }
    COLON.lastIndex = end
    if (!COLON.exec(text)) {
      // a value: JSON encoded in it is redacted too
      if (holdsJson && text.slice(q, end).includes('\\"')) {
        const again = embeddedJson(text.slice(q, end), rule)
        if (again !== null) {
          parts.push(text.slice(last, q), again)
          last = end
        }
      }
      pos = end
      continue
    }
    const start = COLON.lastIndex
    pos = start
    const verdict = rule(keyOf(text.slice(q, end)))
    if (verdict === KEEP || start >= n) continue
    const ch = text[start]
    let stop: number
    if (ch === '"') {
      stop = stringEnd(text, start)
      if (stop < 0) stop = n
    } else if (ch === '{' || ch === '[') {
      stop = nestedEnd(text, start)
    } else {
      SCALAR.lastIndex = start
      SCALAR.exec(text)
      stop = SCALAR.lastIndex
      if (stop === start || (verdict === COUNT && NUMBER.test(text.slice(start, stop)))) continue
    }
    parts.push(text.slice(last, start), '"', REDACTED, '"')
    last = pos = stop
  }
  if (!parts.length) return text
  parts.push(text.slice(last))
  return parts.join('')
}

const formKey = (raw: string): string =>
  raw.includes('%') ? raw.replace(ESCAPE, (_, h: string) => String.fromCharCode(parseInt(h, 16))) : raw

/** `key=value` pairs: a key starts the text or follows `&` or `?`; a value runs to the next `&`. */
function formPass(text: string, rule: (name: string) => Verdict): string {
  if (!text.includes('=')) return text
  const parts: string[] = []
  let last = 0
  let seg = 0
  const n = text.length
  // the next `?` and `=` at or after the current part (n: none), found again only once
  // passed, so that no character is searched twice
  let q = -1
  let eq = -1
  const next = (ch: string, from: number): number => {
    const i = text.indexOf(ch, from)
    return i < 0 ? n : i
  }
  while (seg <= n) {
    const amp = text.indexOf('&', seg)
    const segEnd = amp < 0 ? n : amp
    let part = seg
    while (part < segEnd) {
      if (q < part) q = next('?', part)
      const partEnd = Math.min(q, segEnd)
      if (eq < part) eq = next('=', part)
      if (eq > part && eq < partEnd) {
        const verdict = rule(formKey(text.slice(part, eq)))
        const valueStart = eq + 1
        if (
          verdict !== KEEP &&
          valueStart < segEnd &&
          !(verdict === COUNT && NUMBER.test(text.slice(valueStart, segEnd)))
        ) {
          parts.push(text.slice(last, valueStart), REDACTED)
          last = segEnd
          break
        }
      }
      part = partEnd + 1
    }
    seg = segEnd + 1
  }
  if (!parts.length) return text
  parts.push(text.slice(last))
  return parts.join('')
}

/**
 * `text` with the value of every sensitive key replaced by `[REDACTED]`: `"key": value` at
 * any depth of JSON (valid, cut or invalid; valid JSON stays valid and keeps its
 * formatting), and `key=value&…` pairs in text that does not start with `{` or `[`.
 * `more` holds extra lower-case key names, matched whole.
 */
export function redactBody(text: string, more: ReadonlySet<string>): string {
  const rule = withExtra(more)
  const out = jsonPass(text, rule)
  return JSONISH.test(text) ? out : formPass(out, rule)
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
