// The Alerts page's calls to the JSON API (same origin; the login cookie authenticates them),
// and the API's refusals read back into the fields they name.

export type Json = Record<string, unknown>

/** A refusal of the API: `{"error": code, "detail": text}` and the HTTP status. */
export class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(detail || `HTTP ${status}`)
  }
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers: {
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (err) {
    throw new Refusal(0, 'network', `the server did not answer (${String(err)})`)
  }
  const text = await response.text()
  let data: unknown = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    data = null
  }
  if (!response.ok) {
    const o = (data && typeof data === 'object' ? data : {}) as Json
    const detail = typeof o.detail === 'string' ? o.detail : text.slice(0, 300)
    throw new Refusal(response.status, typeof o.error === 'string' ? o.error : 'http_error', detail)
  }
  return data as T
}

export const rulePath = (id: string): string => `/api/v1/alert-rules/${encodeURIComponent(id)}`

/** A stored rule (secrets masked) as a body the API takes back: no id, no updated_ms. */
export function asBody(rule: Json): Json {
  const { id: _id, updated_ms: _updated, ...body } = rule
  return body
}

/** Change one rule: read it fresh (secrets masked), change it, send it back (a masked
 * secret sent back keeps its stored value). Answers the rule as stored. */
export async function updateRule(id: string, change: (body: Json) => Json): Promise<Json> {
  const rule = await call<Json>('GET', rulePath(id))
  return await call<Json>('PUT', rulePath(id), change(asBody(rule)))
}

export type FieldError = { path: string; message: string }

const TRIGGER_KINDS = new Set(['new_group', 'regression', 'spike', 'log_match', 'user_error'])
const CHANNEL_KINDS = new Set(['webhook', 'slack', 'discord', 'teams', 'pagerduty', 'email'])

/** A refusal's detail (`body.trigger.spike.threshold: Input should be …; body.name: …`) as
 * field paths of the form (`trigger.threshold`, `name`, `channels.0.url`). The union tags
 * pydantic puts in the path are dropped; a part that names no field has the path "". */
export function fieldErrors(detail: string): FieldError[] {
  const out: FieldError[] = []
  for (const part of detail.split(/; (?=[\w.]+: )/)) {
    const match = /^([\w.]+): ([\s\S]*)$/.exec(part)
    if (!match) {
      out.push({ path: '', message: part })
      continue
    }
    const tokens = (match[1] ?? '').split('.')
    if (tokens[0] === 'body') tokens.shift()
    if (tokens[0] === 'trigger' && TRIGGER_KINDS.has(tokens[1] ?? '')) tokens.splice(1, 1)
    if (tokens[0] === 'channels' && CHANNEL_KINDS.has(tokens[2] ?? '')) tokens.splice(2, 1)
    out.push({ path: tokens.join('.'), message: match[2] ?? '' })
  }
  return out
}
