// The rows of the session page's Network, Console and Errors lists. Each starts with its
// time from the session's start; a long URL is shortened in its middle, so that its end
// (the id, the query: the part that differs from row to row) stays visible; the full text
// is the row's title. Text only (textContent): every value is recorded input.
import { clock, duration, el } from './format'
import type { ConsoleRow, ErrorRow, NetworkRow } from './types'

/** ``text`` in at most ``max`` characters, the middle replaced by "…" (40 % head, 60 % tail). */
export function shortenMiddle(text: string, max: number): string {
  if (text.length <= max || max < 8) return text
  const keep = max - 1
  const head = Math.ceil(keep * 0.4)
  return `${text.slice(0, head)}…${text.slice(text.length - (keep - head))}`
}

/** A URL in at most ``max`` characters: without its scheme when too long, then shortened
 * in the middle (the scheme rarely tells rows apart; the URL's end usually does). */
export function shortenUrl(url: string, max: number): string {
  if (url.length <= max) return url
  return shortenMiddle(url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, ''), max)
}

/** Width of one character of the URL column's font (monospace), measured once. */
let charWidth = 0

/**
 * Fits the URLs of the rows in ``box`` to their columns (a column's width never depends on
 * its text: `flex: 1; min-width: 0`). All widths are read, then all texts written: one
 * layout for the rows in view.
 */
export function fitUrls(box: HTMLElement): void {
  const spans = [...box.querySelectorAll<HTMLElement>('.net-row .url[title]')]
  const first = spans[0]
  if (!first) return
  if (!charWidth) {
    const ctx = document.createElement('canvas').getContext('2d')
    if (!ctx) return
    ctx.font = getComputedStyle(first).font
    charWidth = ctx.measureText('0123456789').width / 10 || 7.5
  }
  const widths = spans.map((span) => span.clientWidth)
  spans.forEach((span, i) => {
    const chars = Math.max(12, Math.floor((widths[i] ?? 0) / charWidth))
    span.textContent = shortenUrl(span.title, chars)
  })
}

export const failed = (n: NetworkRow): boolean =>
  n.error !== null || n.status === 0 || (n.status ?? 0) >= 400

/** What a server row says of itself (its badge's title and the timeline's label). */
export const SEEN = 'seen by the server'
const SEEN_TITLE = 'Seen by the server: the backend linked this request to the session (by its ' +
  'cookie) and the browser SDK did not record it, e.g. a form POST answered by a redirect'

/** A row's URL as shown: a server row without one shows its root span's name. */
export const shownUrl = (n: NetworkRow): string => n.url || n.name || n.request_id || ''

/** How rows are drawn: times count from the session's start, ``base`` (epoch ms). */
export type RowContext = { base: number }

export function networkRow(n: NetworkRow, ctx: RowContext): HTMLElement {
  const server = n.source === 'server'
  const row = el('div', `net-row${failed(n) ? ' failed' : ''}${server ? ' server' : ''}`)
  if (n.request_id) row.dataset.requestId = n.request_id
  row.dataset.source = n.source
  const text = shownUrl(n)
  const url = el('span', 'url', text) // fitUrls shortens it to its column
  url.title = text
  row.append(
    el('span', 'at mono', clock(n.start_ms - ctx.base)),
    el('span', 'method', n.method),
    url,
  )
  if (server) {
    // "seen by the server"; "server" where the list is an index column (session.css)
    const seen = el('span', 'badge seen')
    seen.append(el('span', 'long', 'seen by the '), 'server')
    seen.title = SEEN_TITLE
    row.append(seen)
  }
  row.append(
    el('span', `status s${Math.floor((n.status ?? 0) / 100)}`, n.status ? String(n.status) : (n.error ?? '–')),
    el('span', 'dur', duration(n.end_ms - n.start_ms)),
  )
  const b = n.backend
  const badge = el('span', 'be-badges')
  row.append(badge)
  row.title = `${n.method} ${text}${server ? ` (${SEEN}${n.service ? `: ${n.service}` : ''})` : ''}`
  if (b === null) {
    if (n.request_id) badge.append(el('span', 'badge pending', '…'))
    return row
  }
  if (b.errors) badge.append(el('span', 'badge be', `${b.errors} err`))
  if (b.logs) badge.append(el('span', `badge logs lvl-${b.worst_level ?? 'info'}`, `${b.logs} log`))
  if (!b.errors && !b.logs && b.spans) badge.append(el('span', 'badge spans', `${b.spans} sp`))
  return row
}

export function consoleRow(c: ConsoleRow, ctx: RowContext): HTMLElement {
  const row = el('div', `con-row lvl-${c.level}`)
  row.append(el('span', 'at mono', clock(c.ts_ms - ctx.base)), el('span', 'level', c.level),
    el('span', 'msg', c.message))
  row.title = c.message
  return row
}

export function errorRow(e: ErrorRow, ctx: RowContext): HTMLElement {
  const frontend = e.source === 'frontend'
  const row = el('div', 'err-row')
  if (e.request_id) row.dataset.requestId = e.request_id
  row.dataset.errorId = String(e.id)
  row.append(el('span', 'at mono', clock(e.ts_ms - ctx.base)),
    el('span', `badge ${frontend ? 'fe' : 'be'}`, frontend ? 'frontend' : (e.service ?? 'backend')),
    el('span', 'msg', `${e.type}: ${e.message}`))
  row.title = `${e.type}: ${e.message}`
  return row
}
