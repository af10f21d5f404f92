/**
 * fetch and XMLHttpRequest instrumentation. The app's view is unchanged: original
 * arguments pass through untouched unless tracing headers are added (then only the
 * headers member of `init` differs), the app gets the original Response/XHR, and
 * bodies are read from clones. Every internal failure falls back to the original call.
 */
import { traceHeaders } from './ids'
import { HEADER, TRACEPARENT_HEADER } from './names'
import { blocked } from './origins'
import { byteLength, capBytes, redactBody, redactHeaders } from './redact'
import { phases } from './timing'
import type { Log, NetworkEntry, Timing } from './types'

export interface NetConfig {
  record: boolean
  bodies: boolean
  limit: number
  /** lower-case header names redacted in addition to the built-in rule */
  headersToRedact: Set<string>
  /** lower-case body keys redacted in addition to the built-in rule */
  bodyKeys: Set<string>
  blocklist: string[]
  traceparent: boolean
  sanitize?: (e: NetworkEntry) => NetworkEntry | null
}

export interface NetHooks {
  cfg: NetConfig
  /** Recording and tracing are on (H.stop turns them off). */
  active(): boolean
  /** Current session id. */
  session(): string
  /** Our own ingest calls: never traced nor recorded. */
  own(url: URL): boolean
  /** Does tracingOrigins ask for headers on this URL (`raw` as the app gave it)? */
  traced(raw: string, url: URL): boolean
  push(e: NetworkEntry): void
  log: Log
  /** The unpatched fetch, to tell a CORS refusal from a network failure. */
  probe?: typeof fetch
}

type Win = Window & typeof globalThis

interface Pending {
  e: NetworkEntry
  url: URL
  perf: number
  blocked: boolean
}

const TEXTUAL = /json|text|xml|javascript|urlencoded|graphql/i

/** A request entry before its response; `blocked` URLs get no headers nor bodies. */
function begin(k: NetHooks, type: 'fetch' | 'xhr', method: string, url: URL, rid: string | null): Pending {
  return {
    url,
    perf: performance.now(),
    blocked: blocked(k.cfg.blocklist, url.href),
    e: {
      request_id: rid,
      type,
      method: method.toUpperCase(),
      url: url.href.slice(0, 8192),
      status: 0,
      start: Date.now(),
      end: 0,
      error: null,
      request_headers: null,
      response_headers: null,
      request_body: null,
      response_body: null,
      request_body_truncated: false,
      response_body_truncated: false,
      request_size: null,
      response_size: null,
      timing: null,
    },
  }
}

/** Adds the tracing headers through `set`; `get` reads an existing traceparent. */
function addTrace(
  k: NetHooks,
  get: (n: string) => string | null,
  set: (n: string, v: string) => void,
): string {
  const t = traceHeaders(k.session(), get(TRACEPARENT_HEADER))
  set(HEADER, t.highlight)
  if (t.traceparent && k.cfg.traceparent) set(TRACEPARENT_HEADER, t.traceparent)
  return t.requestId
}

function body(k: NetHooks, text: string | null): [string | null, boolean] {
  if (text === null) return [null, false]
  return capBytes(redactBody(text, k.cfg.bodyKeys), k.cfg.limit)
}

/** Text and size of a request body as given to fetch/XHR.send, when cheaply known. */
function describeBody(b: unknown): [string | null, number | null] {
  if (b === null || b === undefined) return [null, null]
  if (typeof b === 'string') return [b, byteLength(b)]
  if (b instanceof URLSearchParams) {
    const s = b.toString()
    return [s, s.length]
  }
  if (typeof FormData !== 'undefined' && b instanceof FormData) {
    const parts: string[] = []
    b.forEach((v, key) => {
      parts.push(`${encodeURIComponent(key)}=${typeof v === 'string' ? encodeURIComponent(v) : '[file]'}`)
    })
    return [parts.join('&'), null]
  }
  if (b instanceof Blob) return [null, b.size]
  if (b instanceof ArrayBuffer || ArrayBuffer.isView(b)) return [null, b.byteLength]
  return [null, null]
}

function timingOf(p: Pending): Timing | null {
  if (typeof performance === 'undefined' || !performance.getEntriesByName) return null
  const list = performance.getEntriesByName(p.url.href, 'resource') as PerformanceResourceTiming[]
  const t = list.filter((x) => x.startTime >= p.perf - 2).sort((a, b) => a.startTime - b.startTime)[0]
  return t ? phases(t) : null
}

/**
 * Why a request failed. Browsers hide whether a cross-origin failure was CORS or the
 * network, so a cross-origin failure is followed by one credential-less `no-cors` HEAD
 * to the same URL: if the server answers that, CORS refused the request.
 */
async function failure(k: NetHooks, p: Pending, err: unknown): Promise<NetworkEntry['error']> {
  const name = (err as { name?: string } | null)?.name
  if (name === 'AbortError') return 'abort'
  if (name === 'TimeoutError') return 'timeout'
  if (p.url.origin === location.origin || !k.probe) return 'network'
  try {
    await k.probe(p.url.href, { method: 'HEAD', mode: 'no-cors', credentials: 'omit', cache: 'no-store' })
    return 'cors'
  } catch {
    return 'network'
  }
}

/** Entries waiting for their PerformanceResourceTiming (it can come a little later). */
const waiting = new Map<Pending, NetHooks>()

/** Queues the entries still waiting for timing, without it (the page is going away). */
export function flushWaiting(): void {
  for (const [p, k] of waiting) finish(k, p, 99)
}

/**
 * Finishes an entry: end time, timing, the sanitizer, then `push`. Runs from promise
 * callbacks and timers, so it never throws.
 */
function finish(k: NetHooks, p: Pending, tries = 0): void {
  try {
    if (!p.e.end) p.e.end = Date.now()
    const t = timingOf(p)
    if (!t && tries < 3 && !p.e.error) {
      waiting.set(p, k)
      setTimeout(() => waiting.has(p) && finish(k, p, tries + 1), 200 * (tries + 1))
      return
    }
    waiting.delete(p)
    p.e.timing = t
    let e: NetworkEntry | null = p.e
    if (k.cfg.sanitize) {
      try {
        e = k.cfg.sanitize(e)
      } catch (err) {
        k.log('requestResponseSanitizer threw; entry dropped', err)
        e = null
      }
    }
    if (e) k.push(e)
  } catch (err) {
    waiting.delete(p)
    k.log('network entry dropped', err)
  }
}

const headerObject = (k: NetHooks, h: Iterable<[string, string]>): Record<string, string> =>
  redactHeaders(h, k.cfg.headersToRedact)

/** Reads at most `limit` bytes of a (cloned) response, within 10 s. */
async function readText(res: Response, limit: number): Promise<[string, boolean, number]> {
  const reader = res.body?.getReader()
  if (!reader) return ['', false, 0]
  const dec = new TextDecoder()
  let text = ''
  let n = 0
  let cut = false
  const timer = setTimeout(() => {
    cut = true
    reader.cancel().catch(() => undefined)
  }, 10000)
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      n += value.byteLength
      text += dec.decode(value, { stream: true })
      if (n > limit) {
        cut = true
        await reader.cancel()
        break
      }
    }
  } finally {
    clearTimeout(timer)
  }
  return [text, cut, n]
}

export function patchFetch(w: Win, k: NetHooks): void {
  const orig = w.fetch
  if (typeof orig !== 'function') return
  function fetch(this: unknown, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    // eslint-disable-next-line prefer-rest-params
    const args = arguments as unknown as [RequestInfo | URL, RequestInit?]
    let s: { p: Pending | null; init?: RequestInit; clone?: Request } | null = null
    try {
      if (k.active()) s = prepareFetch(k, input, init)
    } catch (e) {
      k.log('fetch instrumentation skipped', e)
      s = null
    }
    if (!s) return orig.apply(this, args)
    const res = s.init ? orig.call(this, input, s.init) : orig.apply(this, args)
    try {
      if (s.p) observeFetch(k, s.p, res, s.clone, init)
    } catch (e) {
      k.log(e)
    }
    return res
  }
  w.fetch = fetch as typeof w.fetch
}

function prepareFetch(
  k: NetHooks,
  input: RequestInfo | URL,
  init: RequestInit | undefined,
): { p: Pending | null; init?: RequestInit; clone?: Request } | null {
  const req = typeof Request !== 'undefined' && input instanceof Request ? input : null
  const raw = req ? req.url : String(input)
  const url = new URL(raw, location.href)
  if (k.own(url)) return null
  const isBlocked = blocked(k.cfg.blocklist, url.href)
  const hasInitHeaders = init != null && init.headers !== undefined
  let headers: Headers | null = null
  let next: RequestInit | undefined
  let rid: string | null = null
  if (!isBlocked && k.traced(raw, url)) {
    headers = new Headers(hasInitHeaders ? init.headers : req ? req.headers : undefined)
    const h = headers
    rid = addTrace(k, (n) => h.get(n), (n, v) => h.set(n, v))
    next = {}
    // for..in also copies inherited members, which fetch reads too
    for (const key in init) (next as Record<string, unknown>)[key] = (init as Record<string, unknown>)[key]
    next.headers = headers
  }
  if (!k.cfg.record) return { p: null, init: next }
  const method = (init != null && init.method) || (req ? req.method : 'GET')
  const p = begin(k, 'fetch', method, url, rid)
  let clone: Request | undefined
  if (k.cfg.bodies && !p.blocked) {
    headers ??= new Headers(hasInitHeaders ? init.headers : req ? req.headers : undefined)
    p.e.request_headers = headerObject(k, headers)
    if (init != null && init.body != null) {
      const [text, size] = describeBody(init.body)
      ;[p.e.request_body, p.e.request_body_truncated] = body(k, text)
      p.e.request_size = size
    } else if (req && req.body && !req.bodyUsed) {
      clone = req.clone()
    }
  }
  return { p, init: next, clone }
}

function observeFetch(
  k: NetHooks,
  p: Pending,
  res: Promise<Response>,
  reqClone: Request | undefined,
  init: RequestInit | undefined,
): void {
  const rec = k.cfg.bodies && !p.blocked
  const reqText = reqClone
    ? reqClone.text().then(
        (t) => {
          p.e.request_size = byteLength(t)
          ;[p.e.request_body, p.e.request_body_truncated] = body(k, t)
        },
        () => undefined,
      )
    : Promise.resolve()
  res.then(
    (r) => {
      try {
        p.e.status = r.status
        const len = r.headers.get('content-length')
        p.e.response_size = len ? Number(len) : null
        if (!rec) return finish(k, p)
        p.e.response_headers = headerObject(k, r.headers)
        const type = r.headers.get('content-type') || ''
        if (!TEXTUAL.test(type) || /event-stream/i.test(type) || !r.body || r.bodyUsed) {
          reqText.then(() => finish(k, p), () => finish(k, p))
          return
        }
        const copy = r.clone()
        Promise.all([readText(copy, k.cfg.limit), reqText]).then(
          ([[text, cut, n]]) => {
            p.e.end = Date.now()
            if (!cut) p.e.response_size ??= n
            const [b, trunc] = body(k, text)
            p.e.response_body = b
            p.e.response_body_truncated = cut || trunc
            finish(k, p)
          },
          () => finish(k, p),
        )
      } catch (e) {
        k.log(e)
        finish(k, p)
      }
    },
    (err: unknown) => {
      p.e.end = Date.now()
      const kind = init?.signal?.aborted ? Promise.resolve<NetworkEntry['error']>('abort') : failure(k, p, err)
      kind.then((e) => {
        p.e.error = e
        finish(k, p)
      })
    },
  )
}

interface XhrState {
  method: string
  url: string
  headers: [string, string][]
  p?: Pending | null
  error?: NetworkEntry['error']
}

export function patchXhr(w: Win, k: NetHooks): void {
  const X = w.XMLHttpRequest
  if (typeof X !== 'function') return
  const P = X.prototype
  const { open, send, setRequestHeader } = P
  const meta = new WeakMap<XMLHttpRequest, XhrState>()

  function onEvent(this: XMLHttpRequest, ev: Event): void {
    try {
      const m = meta.get(this)
      if (!m || !m.p) return
      if (ev.type !== 'loadend') {
        m.error = ev.type === 'abort' ? 'abort' : ev.type === 'timeout' ? 'timeout' : 'network'
        return
      }
      const p = m.p
      m.p = null
      p.e.status = this.status
      p.e.end = Date.now()
      if (m.error === 'network') {
        failure(k, p, null).then((e) => {
          p.e.error = e
          finish(k, p)
        })
        return
      }
      p.e.error = m.error ?? null
      const headers = parseHeaders(this.getAllResponseHeaders())
      const len = headers.find(([n]) => n === 'content-length')
      p.e.response_size = len ? Number(len[1]) : null
      if (k.cfg.bodies && !p.blocked && !p.e.error) {
        p.e.response_headers = headerObject(k, headers)
        const [text, size] = xhrBody(this)
        p.e.response_size ??= size
        ;[p.e.response_body, p.e.response_body_truncated] = body(k, text)
      }
      finish(k, p)
    } catch (e) {
      k.log(e)
    }
  }

  P.open = function (this: XMLHttpRequest, method: string, url: string | URL) {
    // eslint-disable-next-line prefer-rest-params
    const r = open.apply(this, arguments as unknown as Parameters<typeof open>)
    try {
      meta.set(this, { method: String(method), url: String(url), headers: [] })
    } catch {
      // never let bookkeeping break the app
    }
    return r
  } as typeof P.open

  P.setRequestHeader = function (this: XMLHttpRequest, name: string, value: string) {
    setRequestHeader.call(this, name, value)
    try {
      meta.get(this)?.headers.push([String(name), String(value)])
    } catch {
      // ignore
    }
  }

  P.send = function (this: XMLHttpRequest, b?: Document | XMLHttpRequestBodyInit | null) {
    try {
      const m = meta.get(this)
      if (m && k.active()) {
        m.error = null
        m.p = null
        const url = new URL(m.url, location.href)
        if (!k.own(url)) {
          let rid: string | null = null
          if (!blocked(k.cfg.blocklist, url.href) && k.traced(m.url, url)) {
            const found = (n: string): string | null => m.headers.find(([x]) => x.toLowerCase() === n)?.[1] ?? null
            rid = addTrace(k, found, (n, v) => setRequestHeader.call(this, n, v))
          }
          if (k.cfg.record) {
            const p = begin(k, 'xhr', m.method, url, rid)
            if (k.cfg.bodies && !p.blocked) {
              p.e.request_headers = headerObject(k, m.headers)
              const [text, size] = describeBody(b)
              ;[p.e.request_body, p.e.request_body_truncated] = body(k, text)
              p.e.request_size = size
            }
            m.p = p
            for (const t of ['error', 'abort', 'timeout', 'loadend']) this.addEventListener(t, onEvent)
          }
        }
      }
    } catch (e) {
      k.log('xhr instrumentation skipped', e)
    }
    // eslint-disable-next-line prefer-rest-params
    return send.apply(this, arguments as unknown as [])
  }
}

function parseHeaders(all: string): [string, string][] {
  const out: [string, string][] = []
  for (const line of all.trim().split(/[\r\n]+/)) {
    const i = line.indexOf(':')
    if (i > 0) out.push([line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()])
  }
  return out
}

/** The response as text when it is text or JSON, with its size when known. */
function xhrBody(x: XMLHttpRequest): [string | null, number | null] {
  const t = x.responseType
  if (t === '' || t === 'text') return [x.responseText, byteLength(x.responseText)]
  if (t === 'json') return [x.response == null ? null : JSON.stringify(x.response), null]
  const r: unknown = x.response
  if (r instanceof Blob) return [null, r.size]
  if (r instanceof ArrayBuffer) return [null, r.byteLength]
  return [null, null]
}
