// The Logs page: drag across the histogram to zoom into that time (a click on one bar is
// its link), and live tail: while on, the page asks the API every POLL_MS for logs newer
// than the newest row with the page's filters and puts them at the top of the table.
// Polling, not a stream: a read per interval on a worker thread, nothing held open.
import './logs.css'
import { getJSON } from './api'
import { el, localTime } from './format'

const POLL_MS = 2000
const MAX_ROWS = 500

type Log = {
  id: number
  ts_ms: number | null
  level: string
  service: string
  body: string
  environment?: string | null
  trace_id?: string | null
  span_id?: string | null
  session_id?: string | null
  request_id?: string | null
  session_secure_id?: string | null
  attributes?: unknown
}
type LogPage = { logs: Log[] }

const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g

function attr(dl: HTMLElement, key: string, value: string): void {
  const row = el('div', '')
  row.append(el('dt', '', key), el('dd', '', value))
  dl.append(row)
}

function link(className: string, href: string, text: string): HTMLAnchorElement {
  const a = el('a', className, text)
  a.href = href
  return a
}

/** The markup of _log_row.html. */
function logRow(lg: Log): HTMLTableRowElement {
  const tr = el('tr', `log-row lvl-${lg.level} new`)
  tr.dataset.logId = String(lg.id)
  const when = el('td', 'nowrap')
  const time = el('time', '', lg.ts_ms === null ? '–' : localTime(lg.ts_ms, true))
  if (lg.ts_ms !== null) {
    time.dateTime = new Date(lg.ts_ms).toISOString()
    time.dataset.ms = String(lg.ts_ms)
  }
  when.append(time)
  const level = el('td', '')
  level.append(el('span', 'level', lg.level))
  const body = el('td', 'body')
  const details = el('details', 'log-more')
  details.append(el('summary', '', String(lg.body ?? '').replace(ANSI, '')))
  const dl = el('dl', 'log-attrs')
  for (const key of ['environment', 'trace_id', 'span_id', 'session_id', 'request_id'] as const) {
    const value = lg[key]
    if (value) attr(dl, key, value)
  }
  const attrs = lg.attributes
  const entries = attrs && typeof attrs === 'object' && !Array.isArray(attrs) ? Object.entries(attrs) : []
  for (const [k, v] of entries) attr(dl, k, typeof v === 'string' ? v : JSON.stringify(v))
  if (!entries.length) {
    const none = el('div', '')
    none.append(el('dt', '', 'attributes'), el('dd', 'muted', 'none'))
    dl.append(none)
  }
  details.append(dl)
  body.append(details)
  const links = el('td', 'nowrap small links')
  const sid = lg.session_secure_id
  if (sid) {
    const req = lg.request_id ? `&request=${encodeURIComponent(lg.request_id)}` : ''
    links.append(link('session-link', `/sessions/${sid}?t=${lg.ts_ms ?? ''}${req}`, 'session'), ' ')
  }
  if (lg.request_id) {
    links.append(link('request-link', `/requests/${encodeURIComponent(lg.request_id)}`, 'request'), ' ')
  }
  if (lg.trace_id) links.append(link('trace-link', `/traces/${lg.trace_id}`, 'trace'))
  tr.append(when, level, el('td', '', lg.service), body, links)
  return tr
}

class LiveTail {
  private timer = 0
  private busy = false

  constructor(
    private readonly rows: HTMLElement,
    private readonly status: HTMLElement,
  ) {}

  private params(): URLSearchParams {
    const page = new URLSearchParams(location.search)
    const out = new URLSearchParams()
    for (const [from, to] of [
      ['q', 'q'],
      ['level', 'level'],
      ['service', 'service'],
      ['session', 'session_id'],
      ['request', 'request_id'],
    ] as const) {
      const value = page.get(from)
      if (value) out.set(to, value)
    }
    let newest = 0
    for (const time of this.rows.querySelectorAll<HTMLTimeElement>('tr.log-row time[data-ms]')) {
      newest = Math.max(newest, Number(time.dataset.ms) || 0)
    }
    const sinceBox = document.getElementById('log-histogram')?.dataset.startMs
    out.set('start_ms', String(newest || Number(sinceBox) || Date.now() - 60_000))
    out.set('limit', '100')
    return out
  }

  async poll(): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      const page = await getJSON<LogPage>(`/api/v1/logs?${this.params()}`)
      const seen = new Set(
        [...this.rows.querySelectorAll<HTMLElement>('tr.log-row')].map((r) => r.dataset.logId),
      )
      const fresh = page.logs.filter((lg) => !seen.has(String(lg.id)))
      fresh.sort((a, b) => (b.ts_ms ?? 0) - (a.ts_ms ?? 0))
      if (fresh.length) {
        this.rows.querySelector('tr.no-logs')?.remove()
        for (const old of this.rows.querySelectorAll('tr.new')) old.classList.remove('new')
        this.rows.prepend(...fresh.map(logRow))
        const all = this.rows.querySelectorAll('tr.log-row')
        for (let i = MAX_ROWS; i < all.length; i++) all[i]?.remove()
      }
      this.status.textContent = `live · ${fresh.length} new at ${localTime(Date.now())}`
    } catch (err) {
      this.status.textContent = 'live tail paused: the server did not answer'
      console.warn('live tail', err)
    } finally {
      this.busy = false
    }
  }

  start(): void {
    this.stop()
    this.status.textContent = 'live'
    void this.poll()
    this.timer = window.setInterval(() => void this.poll(), POLL_MS)
  }

  stop(): void {
    if (this.timer) window.clearInterval(this.timer)
    this.timer = 0
  }
}

function setupLive(): void {
  const toggle = document.getElementById('live-tail') as HTMLInputElement | null
  const rows = document.getElementById('log-rows')
  const status = document.getElementById('live-status')
  if (!toggle || !rows || !status) return
  const tail = new LiveTail(rows, status)
  const apply = (): void => {
    const url = new URL(location.href)
    if (toggle.checked) {
      // live means "up to now": a zoom that ends in the past, or a later page, is left
      if (url.searchParams.get('end') || Number(url.searchParams.get('offset'))) {
        url.searchParams.delete('end')
        url.searchParams.delete('start')
        url.searchParams.delete('offset')
        url.searchParams.set('live', '1')
        location.assign(url.toString())
        return
      }
      url.searchParams.set('live', '1')
      tail.start()
    } else {
      url.searchParams.delete('live')
      tail.stop()
      status.textContent = ''
    }
    history.replaceState(null, '', url.toString())
  }
  toggle.addEventListener('change', apply)
  if (new URLSearchParams(location.search).get('live') === '1') {
    toggle.checked = true
    apply()
  }
}

/** Drag across the histogram: zoom into the buckets under the drag. */
function setupBrush(): void {
  const svg = document.getElementById('log-histogram') as SVGSVGElement | null
  const brush = document.getElementById('hist-brush') as SVGRectElement | null
  if (!svg || !brush) return
  const start = Number(svg.dataset.startMs)
  const end = Number(svg.dataset.endMs)
  const width = Number(svg.viewBox.baseVal.width) || 1000
  if (!(end > start)) return
  let from: number | null = null
  let moved = false
  const x = (event: PointerEvent): number => {
    const box = svg.getBoundingClientRect()
    return Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1) * width
  }
  svg.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return
    from = x(event)
    moved = false
  })
  svg.addEventListener('pointermove', (event) => {
    if (from === null) return
    const to = x(event)
    if (Math.abs(to - from) < 4 && !moved) return
    if (!moved) svg.setPointerCapture(event.pointerId)
    moved = true
    brush.setAttribute('x', String(Math.min(from, to)))
    brush.setAttribute('width', String(Math.abs(to - from)))
    brush.setAttribute('visibility', 'visible')
  })
  svg.addEventListener('pointerup', (event) => {
    if (from === null) return
    const to = x(event)
    const a = Math.min(from, to)
    const b = Math.max(from, to)
    from = null
    if (!moved) return // a click: the bar's own link zooms
    const url = new URL(location.href)
    url.searchParams.set('start', String(Math.floor(start + (a / width) * (end - start))))
    url.searchParams.set('end', String(Math.ceil(start + (b / width) * (end - start))))
    url.searchParams.delete('since')
    url.searchParams.delete('offset')
    location.assign(url.toString())
  })
  // a drag ends in a click on the bar under the pointer: it must not follow that link
  svg.addEventListener(
    'click',
    (event) => {
      if (moved) {
        event.preventDefault()
        moved = false
      }
    },
    true,
  )
}

setupLive()
setupBrush()
