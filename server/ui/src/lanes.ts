// What the timeline's lanes show. From the page's data: network requests, console errors,
// frontend and backend errors, `H.track` events. From the replay's rrweb events (once they
// are loaded): page changes (the Meta event each page load starts with) and clicks, with
// rage clicks marked (RAGE_CLICKS or more clicks within RAGE_MS and RAGE_PX of the first).
import { SEEN, shownUrl } from './rows'
import type { Mark } from './timeline'
import type { SessionData } from './types'

export type ReplayEvent = { type: number; timestamp: number; data?: unknown }

const META = 4
const INCREMENTAL = 3
const MOUSE_INTERACTION = 2
const CLICK = 2
export const RAGE_CLICKS = 3
export const RAGE_MS = 1000
export const RAGE_PX = 30

export type Page = { ms: number; url: string }
type Click = { ms: number; x: number; y: number }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null

/** Each page load of the replay (its Meta event's href), consecutive repeats dropped. */
export function pagesOf(events: readonly ReplayEvent[]): Page[] {
  const out: Page[] = []
  for (const e of events) {
    if (e.type !== META || !isObject(e.data) || typeof e.data.href !== 'string') continue
    if (out[out.length - 1]?.url !== e.data.href) out.push({ ms: e.timestamp, url: e.data.href })
  }
  return out
}

export function clicksOf(events: readonly ReplayEvent[]): Click[] {
  const out: Click[] = []
  for (const e of events) {
    const d = e.data
    if (e.type !== INCREMENTAL || !isObject(d) || d.source !== MOUSE_INTERACTION || d.type !== CLICK) continue
    out.push({ ms: e.timestamp, x: Number(d.x) || 0, y: Number(d.y) || 0 })
  }
  return out
}

/** Clicks as marks: a run of rage clicks is one bad mark; others one mark each. Linear. */
export function clickMarks(clicks: readonly Click[]): Mark[] {
  const out: Mark[] = []
  let i = 0
  while (i < clicks.length) {
    const first = clicks[i]
    if (!first) break
    let j = i + 1
    for (; j < clicks.length; j++) {
      const c = clicks[j]
      if (!c || c.ms - first.ms > RAGE_MS || Math.hypot(c.x - first.x, c.y - first.y) > RAGE_PX) break
    }
    const n = j - i
    if (n >= RAGE_CLICKS) {
      out.push({ ms: first.ms, label: `Rage click: ${n} clicks in ${((clicks[j - 1]?.ms ?? first.ms) - first.ms) / 1000} s`, bad: true })
      i = j
    } else {
      out.push({ ms: first.ms, label: `Click at ${first.x}, ${first.y}` })
      i += 1
    }
  }
  return out
}

/** The lanes drawn from the page's own data (no replay needed). */
export function dataMarks(data: SessionData): Record<string, Mark[]> {
  const failedRequests = new Set(data.errors.flatMap((e) => (e.request_id ? [e.request_id] : [])))
  return {
    track: data.track.map((t) => ({ ms: t.ts_ms, label: `track: ${t.event}` })),
    network: data.network.map((n) => ({
      ms: n.start_ms,
      label: `${n.method} ${shownUrl(n)} ${n.status || n.error || ''}${n.source === 'server' ? ` · ${SEEN}` : ''}`,
      bad: (n.backend?.errors ?? 0) > 0 || (n.request_id !== null && failedRequests.has(n.request_id)) ||
        (n.status ?? 0) >= 500 ||
        n.error !== null,
      server: n.source === 'server',
    })),
    console: data.console.filter((c) => c.level === 'error').map((c) => ({ ms: c.ts_ms, label: c.message })),
    frontend: data.errors.filter((e) => e.source === 'frontend').map((e) => ({ ms: e.ts_ms, label: `${e.type}: ${e.message}`, bad: true })),
    backend: data.errors.filter((e) => e.source !== 'frontend').map((e) => ({ ms: e.ts_ms, label: `${e.type}: ${e.message}`, bad: true })),
  }
}

/** The lanes drawn from the replay's events. */
export function replayMarks(pages: readonly Page[], clicks: readonly Click[]): Record<string, Mark[]> {
  return {
    pages: pages.map((p) => ({ ms: p.ms, label: p.url })),
    clicks: clickMarks(clicks),
  }
}
