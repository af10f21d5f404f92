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
