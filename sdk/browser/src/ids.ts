/** Random identifiers of the linkage contract, from crypto.getRandomValues. */

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** `n` characters of [A-Za-z0-9], unbiased (bytes >= 248 are rejected). */
export function randomAlnum(n: number): string {
  let out = ''
  const buf = new Uint8Array(n + 8)
  while (out.length < n) {
    crypto.getRandomValues(buf)
    for (let i = 0; i < buf.length && out.length < n; i++) {
      if (buf[i]! < 248) out += ALNUM[buf[i]! % 62]
    }
  }
  return out
}

/** `bytes` random bytes as lowercase hex, never all zero (W3C trace/span ids). */
export function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes)
  let hex: string
  do {
    crypto.getRandomValues(buf)
    hex = ''
    for (let i = 0; i < bytes; i++) hex += (buf[i]! | 256).toString(16).slice(1)
  } while (/^0+$/.test(hex))
  return hex
}

export const newSessionId = (): string => randomAlnum(28)

export const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/

/**
 * The two tracing headers for one request. When the app already sends a valid
 * `traceparent`, its trace id becomes the request id and its header is kept.
 */
export function traceHeaders(
  sessionId: string,
  existingTraceparent: string | null,
): { requestId: string; highlight: string; traceparent: string | null } {
  const m = existingTraceparent ? TRACEPARENT.exec(existingTraceparent.trim()) : null
  const requestId = m ? m[1]! : randomHex(16)
  return {
    requestId,
    highlight: `${sessionId}/${requestId}`,
    traceparent: m ? null : `00-${requestId}-${randomHex(8)}-01`,
  }
}
