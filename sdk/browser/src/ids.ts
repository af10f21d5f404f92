/**
 * Identifiers of the linkage contract (docs/linkage.md): random ones from
 * crypto.getRandomValues, the id rule, and the W3C traceparent an app may already send.
 */

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

/**
 * A session or request id: 1-128 characters of [A-Za-z0-9_.:-], at least one of them a
 * letter or digit. The same rule for both, in every component.
 */
const ID = /^(?=[_.:-]*[A-Za-z0-9])[A-Za-z0-9_.:-]{1,128}$/

export const isId = (value: unknown): value is string => typeof value === 'string' && ID.test(value)

const MAX_TRACEPARENT = 512
const TRACEPARENT = /^[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-[^ \t]*)?[ \t]*$/
const ZEROS = /^0+$/

/**
 * The trace id and parent span id of a valid W3C `traceparent`: lower-case hex, neither id
 * all zeros, version `ff` never, version `00` with exactly four fields, later versions with
 * any fields appended; spaces and tabs around it are ignored. `null` for anything else.
 */
export function parseTraceparent(value: string): [string, string] | null {
  if (value.length > MAX_TRACEPARENT) return null
  const m = TRACEPARENT.exec(value)
  if (!m || m[1] === 'ff' || (m[1] === '00' && m[4] !== undefined)) return null
  const trace = m[2]!
  const parent = m[3]!
  return ZEROS.test(trace) || ZEROS.test(parent) ? null : [trace, parent]
}

/**
 * The two tracing headers for one request. When the app already sends a valid
 * `traceparent`, its trace id becomes the request id and its header is kept.
 */
export function traceHeaders(
  sessionId: string,
  existingTraceparent: string | null,
): { requestId: string; highlight: string; traceparent: string | null } {
  const ids = existingTraceparent === null ? null : parseTraceparent(existingTraceparent)
  const requestId = ids ? ids[0] : randomHex(16)
  return {
    requestId,
    highlight: `${sessionId}/${requestId}`,
    traceparent: ids ? null : `00-${requestId}-${randomHex(8)}-01`,
  }
}
