// Formatting helpers shared by the page modules.

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

/** Epoch ms → local "YYYY-MM-DD HH:MM:SS" (".mmm" when precise). */
export function localTime(ms: number, precise = false): string {
  const d = new Date(ms)
  const base =
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  return precise ? `${base}.${pad(d.getMilliseconds(), 3)}` : base
}

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** Epoch ms → "just now", "3 min ago", "5 h ago", "2 days ago", or "in 20 min" for a
 * time ahead of `now`; past 30 days the local date ("2026-10-02"). */
export function relativeTime(ms: number, now: number = Date.now()): string {
  const diff = now - ms
  const span = Math.abs(diff)
  const say = (n: number, unit: string): string => (diff >= 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`)
  if (span < 45_000) return diff >= 0 ? 'just now' : 'in a moment'
  if (span < HOUR) return say(Math.max(1, Math.round(span / MINUTE)), 'min')
  if (span < DAY) return say(Math.round(span / HOUR), 'h')
  if (span < 30 * DAY) {
    const days = Math.round(span / DAY)
    return say(days, days === 1 ? 'day' : 'days')
  }
  return localTime(ms).slice(0, 10)
}

/** The browser's time zone, as "Europe/Paris (UTC+01:00)" for the time `ms`. */
export function zoneLabel(ms: number): string {
  const offset = -new Date(ms).getTimezoneOffset()
  const sign = offset < 0 ? '-' : '+'
  const abs = Math.abs(offset)
  const utc = `UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  const name = Intl.DateTimeFormat().resolvedOptions().timeZone
  return name && name !== 'UTC' ? `${name} (${utc})` : utc
}

/** A `<time>` as pages show it (the twin of the server's `|time` filter in ui/render.py):
 * relative text ("3 min ago"), or, when precise (log lines), the local time with ms; the
 * title holds the local absolute time with its zone, and the relative time when precise. */
export function showTime(node: HTMLTimeElement, ms: number, precise = false, now = Date.now()): void {
  const absolute = `${localTime(ms, precise)} ${zoneLabel(ms)}`
  node.dateTime = new Date(ms).toISOString()
  node.dataset.ms = String(ms)
  node.textContent = precise ? localTime(ms, true) : relativeTime(ms, now)
  node.title = precise ? `${relativeTime(ms, now)} · ${absolute}` : absolute
}

/** Offset in ms → "m:ss". */
export function clock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000))
  return `${Math.floor(total / 60)}:${pad(total % 60)}`
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return clock(ms)
}

/** An element with a class and text, the building block of list rows. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}
