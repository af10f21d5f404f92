/** Public option types and the wire shapes of docs/protocol.md (v1). */

export type OriginRule = string | RegExp

export type PrivacySetting = 'default' | 'strict' | 'none'

/** Phase durations in ms; null when the browser withheld the phase (a cross-origin
 * response without `Timing-Allow-Origin`), 0 when it really took no time. */
export interface Timing {
  dns: number | null
  connect: number | null
  tls: number | null
  ttfb: number | null
  download: number | null
}

/** One finished request, as sent in `network[]`. */
export interface NetworkEntry {
  request_id: string | null
  /** `navigation`: the document's own request (navigation timing; docs/linkage.md). */
  type: 'fetch' | 'xhr' | 'navigation'
  method: string
  url: string
  status: number
  start: number
  end: number
  error: 'network' | 'cors' | 'abort' | 'timeout' | null
  request_headers: Record<string, string> | null
  response_headers: Record<string, string> | null
  request_body: string | null
  response_body: string | null
  request_body_truncated: boolean
  response_body_truncated: boolean
  request_size: number | null
  response_size: number | null
  timing: Timing | null
}

export interface NetworkRecordingOptions {
  /** Record requests at all (default true). Tracing headers do not depend on it. */
  enabled?: boolean | undefined
  /** Record headers and bodies, redacted (default false). */
  recordHeadersAndBody?: boolean | undefined
  /** Header names redacted in addition to the built-in list. */
  networkHeadersToRedact?: string[] | undefined
  /** Body keys redacted at any depth in addition to the built-in list. */
  networkBodyKeysToRedact?: string[] | undefined
  /** URL substrings: no tracing header, no headers or bodies recorded. */
  urlBlocklist?: string[] | undefined
  /** Body capture cap per request body, in bytes (default 65536). */
  bodySizeLimit?: number | undefined
  /** Last look at each entry before it is queued; return null to drop it. */
  requestResponseSanitizer?: ((entry: NetworkEntry) => NetworkEntry | null) | undefined
}

export interface Options {
  backendUrl?: string | undefined
  tracingOrigins?: boolean | OriginRule[] | undefined
  networkRecording?: boolean | NetworkRecordingOptions | undefined
  privacySetting?: PrivacySetting | undefined
  environment?: string | undefined
  serviceName?: string | undefined
  /** Your app's version (the release its source maps are uploaded under). */
  version?: string | undefined
  /** Same as `version` (highlight's client option name; used when `version` is not set). */
  appVersion?: string | undefined
  /** Same as `version` (OpenTelemetry's `service.version`; used when neither is set). */
  serviceVersion?: string | undefined
  disableSessionRecording?: boolean | undefined
  disableConsoleRecording?: boolean | undefined
  enableTraceparent?: boolean | undefined
  /**
   * The first-party session cookie that links full-page navigations and form posts
   * (docs/browser-sdk.md). Default: on unless `tracingOrigins` is false; false turns it
   * off, true turns it on even then (host-only).
   */
  sessionCookie?: boolean | undefined
  debug?: boolean | undefined
  /** highlight.run compatibility: same as privacySetting 'strict'. */
  enableStrictPrivacy?: boolean | undefined
  /** highlight.run compatibility: same as networkRecording false. */
  disableNetworkRecording?: boolean | undefined
}

export interface StackFrame {
  file: string
  function: string
  line: number
  column: number
}

export type ErrorSource = 'onerror' | 'unhandledrejection' | 'console.error' | 'consumeError'

export interface ErrorEntry {
  ts: number
  type: string
  message: string
  source: ErrorSource
  url: string
  stack: StackFrame[]
  raw_stack: string
  payload?: unknown
  /** `{script URL: debug id}` for the scripts the stack names that registered one. */
  debug_ids?: Record<string, string>
}

export type ConsoleLevel = 'log' | 'info' | 'warn' | 'error' | 'debug'

export interface ConsoleEntry {
  ts: number
  level: ConsoleLevel
  message: string
  args: string[]
}

/** Debug logger: a no-op unless `debug: true`. */
export type Log = (...args: unknown[]) => void
