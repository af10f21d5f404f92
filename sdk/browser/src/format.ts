/** Safe string renderings of arbitrary values (console arguments, rejection reasons). */

export const MAX_ARG = 16 * 1024

export function render(v: unknown): string {
  try {
    if (typeof v === 'string') return v
    if (v instanceof Error) return v.stack || `${v.name}: ${v.message}`
    if (typeof v === 'function') return `[function ${v.name || 'anonymous'}]`
    if (typeof v !== 'object' || v === null) return String(v)
    if (typeof Node !== 'undefined' && v instanceof Node) {
      const el = v as unknown as Element
      return el.tagName ? `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}>` : v.nodeName
    }
    const seen = new WeakSet<object>()
    const s = JSON.stringify(v, (_k, x: unknown) => {
      if (typeof x === 'bigint') return `${x}n`
      if (typeof x === 'function') return '[function]'
      if (x instanceof Error) return `${x.name}: ${x.message}`
      if (typeof x === 'object' && x !== null) {
        if (seen.has(x)) return '[circular]'
        seen.add(x)
      }
      return x
    })
    return s === undefined ? String(v) : s
  } catch {
    try {
      return String(v)
    } catch {
      return '[unrenderable]'
    }
  }
}

export const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n)}…` : s)

/** `v` if it serialises as JSON, else its rendering (cycles, BigInt, ...). */
export function jsonSafe(v: unknown): unknown {
  try {
    JSON.stringify(v)
    return v
  } catch {
    const s = render(v)
    try {
      return JSON.parse(s) as unknown
    } catch {
      return s
    }
  }
}
