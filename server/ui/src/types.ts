// The session page's data, embedded by the server as JSON (see ui/sessions.py).

export type Backend = { spans: number; logs: number; errors: number; worst_level: string | null }

export type NetworkRow = {
  /** null for a request seen by the server only */
  id: number | null
  request_id: string | null
  method: string
  url: string
  /** null: a request seen by the server whose root span names no status */
  status: number | null
  start_ms: number
  end_ms: number
  error: string | null
  /** null when the session is large: fetched for the rows in view (see summaries.ts) */
  backend: Backend | null
  /** "server": a request of the session that only its backend saw (a form POST that
   * redirected, a page load the browser SDK did not record; query/serverseen.py) */
  source: 'browser' | 'server'
  /** a server row's root span: its service and name */
  service: string | null
  name: string | null
}

export type ConsoleRow = { ts_ms: number; level: string; message: string }

// A stack frame as the API answers it (schemas.StackFrame, RawFrame, SourceContext): a
// frontend frame mapped by a source map has `context` and `raw` (the minified frame).
export type RawFrame = {
  file: string | null
  function: string | null
  line: number | null
  column: number | null
}

export type SourceContext = {
  start: number
  lines: string[]
}

export type Frame = {
  file: string | null
  function: string | null
  line: number | null
  column: number | null
  code: string | null
  in_app: boolean | null
  path?: string | null // the file as shown (ui/stacks.py): relative to the project
  context?: SourceContext | null
  raw?: RawFrame | null
}

export type ErrorRow = {
  id: number
  group_id: number
  ts_ms: number
  source: string
  type: string
  message: string
  request_id: string | null
  service: string | null
  stack: Frame[] | null
}

export type SessionData = {
  session: { secure_id: string; started_ms: number; last_ms: number }
  network: NetworkRow[]
  console: ConsoleRow[]
  errors: ErrorRow[]
  start_at: number | null
  open_request: string | null
  /** `H.track` events (their properties are shown by the server in the Context tab) */
  track: TrackRow[]
}

export type TrackRow = { ts_ms: number; event: string }
