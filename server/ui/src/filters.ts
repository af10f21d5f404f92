// Filters and search of the session page's lists: each tab's bar (`[data-filters=tab]`)
// holds named fields; any change filters that tab's rows again, in the browser (the rows
// are the page's own data). Text search is case-insensitive, on any substring.
import type { ConsoleRow, ErrorRow, NetworkRow } from './types'

export type Fields = Record<string, string | boolean>

/** The status classes of the Network filter: 2xx … 5xx, and "failed": no HTTP answer
 * (a network error, CORS, an abort: status 0 or an error recorded). */
export function statusClass(n: NetworkRow): string {
  if (n.error !== null || n.status === 0) return 'failed'
  return n.status === null ? '' : `${Math.floor(n.status / 100)}xx`
}

const has = (text: string, q: string): boolean => text.toLowerCase().includes(q)

export function networkMatches(
  n: NetworkRow,
  f: Fields,
  backendErrors: (n: NetworkRow) => boolean,
): boolean {
  const q = String(f.q ?? '').trim().toLowerCase()
  if (f.status && statusClass(n) !== f.status) return false
  if (f.method && n.method.toUpperCase() !== f.method) return false
  if (f.backend === true && !backendErrors(n)) return false
  if (f.source && n.source !== f.source) return false
  return !q || has(`${n.method} ${n.url || (n.name ?? '')} ${n.status || ''} ${n.error ?? ''}`, q)
}

export function consoleMatches(c: ConsoleRow, f: Fields): boolean {
  const q = String(f.q ?? '').trim().toLowerCase()
  if (f.level && c.level !== f.level) return false
  return !q || has(c.message, q)
}

export function errorMatches(e: ErrorRow, f: Fields): boolean {
  const q = String(f.q ?? '').trim().toLowerCase()
  if (f.source === 'frontend' && e.source !== 'frontend') return false
  if (f.source === 'backend' && e.source === 'frontend') return false
  return !q || has(`${e.type} ${e.message} ${e.service ?? ''}`, q)
}

/** The current values of a filter bar's fields, by their `name`. */
export function readFields(bar: HTMLElement): Fields {
  const out: Fields = {}
  for (const input of bar.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[name]')) {
    out[input.name] = input instanceof HTMLInputElement && input.type === 'checkbox' ? input.checked : input.value
  }
  return out
}

/** Calls ``changed`` with the bar's fields whenever one of them changes (typing included). */
export function watchBar(bar: HTMLElement, changed: (fields: Fields) => void): void {
  let timer = 0
  const fire = (): void => {
    window.clearTimeout(timer)
    timer = window.setTimeout(() => changed(readFields(bar)), 80)
  }
  bar.addEventListener('input', fire)
  bar.addEventListener('change', fire)
  bar.addEventListener('submit', (event) => event.preventDefault())
}
