/**
 * The document's own request (a link click, a form post's redirect, the first page load)
 * as a network entry of the session, linked by the `traceparent` the backend put on the
 * page (docs/linkage.md, "Navigation timing"): the `traceparent` metric of the navigation
 * entry's `Server-Timing`, else `<meta name="traceparent" content="..." data-time="...">`.
 *
 * A page from a cache carries the traceparent of the request that first made it, maybe
 * another visitor's: a value is used only when the server's time sent with it
 * (`backlight-time`, `data-time`) is within two minutes of this navigation's request, the
 * page did not come from the browser's cache (`transferSize` 0), and no page of this
 * browser recorded the same request id before.
 */
import { parseTraceparent } from './ids'
import { TIME_METRIC, TRACEPARENT_METRIC } from './names'
import { type Marks, phases } from './timing'
import type { NetworkEntry } from './types'

export const MAX_AGE_MS = 120_000

/** What is read from a PerformanceNavigationTiming (older browsers lack some members). */
export interface NavTiming extends Marks {
  name: string
  fetchStart: number
  transferSize?: number
  encodedBodySize?: number
  responseStatus?: number
  serverTiming?: readonly { name: string; description: string }[]
}

export interface MetaTag {
  content: string | null
  time: string | null
}

const WHOLE_MS = /^\d{1,16}$/

/**
 * The request id of the document's request: the trace id of a fresh, valid traceparent,
 * or null. `Server-Timing` decides when it has a `traceparent` metric (even a stale one:
 * the meta tag came with the same response); the meta tag is read otherwise.
 */
export function documentRequestId(nav: NavTiming | null, meta: MetaTag | null, timeOrigin: number): string | null {
  let value: string | null = null
  let time: string | null = null
  for (const m of nav?.serverTiming ?? []) {
    if (m.name === TRACEPARENT_METRIC && value === null) value = m.description
    else if (m.name === TIME_METRIC && time === null) time = m.description
  }
  if (value === null && meta) {
    value = meta.content
    time = meta.time
  }
  if (value === null || time === null || !WHOLE_MS.test(time)) return null
  if (nav && nav.transferSize === 0) return null // the browser's cache
  const ids = parseTraceparent(value)
  if (!ids) return null
  const sent = timeOrigin + (nav && nav.requestStart > 0 ? nav.requestStart : 0)
  return Math.abs(Number(time) - sent) <= MAX_AGE_MS ? ids[0] : null
}

/** The network entry of the document's request (method GET: the entry does not say). */
export function documentEntry(nav: NavTiming, requestId: string, timeOrigin: number): NetworkEntry {
  const at = (ms: number): number => Math.round(timeOrigin + ms)
  const start = at(nav.fetchStart)
  return {
    request_id: requestId,
    type: 'navigation',
    method: 'GET',
    url: nav.name.slice(0, 8192),
    status: nav.responseStatus ?? 0,
    start,
    end: Math.max(start, at(nav.responseEnd)),
    error: null,
    request_headers: null,
    response_headers: null,
    request_body: null,
    response_body: null,
    request_body_truncated: false,
    response_body_truncated: false,
    request_size: null,
    response_size: nav.encodedBodySize ? nav.encodedBodySize : null,
    timing: phases(nav),
  }
}

const SEEN_MAX = 50
const SEEN_MS = 10 * 60 * 1000

/**
 * Request ids recorded by this browser's pages in the last 10 minutes (localStorage, shared
 * by its tabs): the same value read again (a page another tab loaded, served again by a
 * cache) is not recorded twice. `remember` is false for an id seen before.
 */
export function remember(store: Pick<Storage, 'getItem' | 'setItem'> | null, key: string, id: string, now: number): boolean {
  let seen: [string, number][] = []
  try {
    const raw = store?.getItem(key)
    const parsed: unknown = raw ? JSON.parse(raw) : []
    if (Array.isArray(parsed)) {
      seen = parsed.filter(
        (x): x is [string, number] =>
          Array.isArray(x) && typeof x[0] === 'string' && typeof x[1] === 'number' && now - x[1] < SEEN_MS,
      )
    }
  } catch {
    seen = []
  }
  if (seen.some(([s]) => s === id)) return false
  seen.push([id, now])
  try {
    store?.setItem(key, JSON.stringify(seen.slice(-SEEN_MAX)))
  } catch {
    // storage full or denied: this page's check only
  }
  return true
}
