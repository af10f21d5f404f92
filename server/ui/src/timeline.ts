// The timeline under the player: one lane per kind of mark, and a time axis. Every lane's
// track spans the session (from ``base``, ``total`` ms long) over the same x range as the
// seek bar, so a mark, its tick on the axis and the seek bar's thumb line up.
//
// Marks are bucketed by pixels: at most one marker per TARGET px of track, each marker a
// TARGET × TARGET px button (WCAG 2.5.8 target size) with a thin visible bar, so thousands
// of requests draw as a few dozen markers that are each easy to hit.

/** ``server``: a request seen by the server only (drawn hollow when its bucket holds no other) */
export type Mark = { ms: number; label: string; bad?: boolean; server?: boolean }

export const TARGET = 24
const MAX_LABELS = 5

export function drawLane(
  track: HTMLElement,
  marks: readonly Mark[],
  base: number,
  total: number,
): void {
  const buckets = Math.max(1, Math.floor(track.clientWidth / TARGET))
  const groups = new Map<number, { ms: number; labels: string[]; bad: boolean; n: number; server: boolean }>()
  for (const mark of marks) {
    const at = total > 0 ? Math.min(1, Math.max(0, (mark.ms - base) / total)) : 0
    const key = Math.min(buckets - 1, Math.floor(at * buckets))
    const group = groups.get(key) ?? { ms: mark.ms, labels: [], bad: false, n: 0, server: true }
    group.n += 1
    if (group.labels.length < MAX_LABELS) group.labels.push(mark.label)
    // a bucket seeks to its first bad mark (an error among requests), else its first mark
    if (mark.bad && !group.bad) group.ms = mark.ms
    group.bad ||= Boolean(mark.bad)
    group.server &&= Boolean(mark.server)
    groups.set(key, group)
  }
  const nodes: HTMLElement[] = []
  for (const [key, group] of groups) {
    const node = document.createElement('button')
    node.type = 'button'
    node.tabIndex = -1 // the lists and the error keys reach the same moments by keyboard
    node.className = `marker${group.bad ? ' bad' : ''}${group.server ? ' server' : ''}`
    node.style.left = `${((key + 0.5) / buckets) * 100}%`
    const more = group.n > group.labels.length ? [`… ${group.n - group.labels.length} more`] : []
    node.title = [...group.labels, ...more].join('\n')
    node.setAttribute('aria-label', group.labels[0] ?? '')
    node.dataset.ms = String(group.ms)
    nodes.push(node)
  }
  track.replaceChildren(...nodes)
}

const STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400]

/** Ticks of the time axis: a round step that leaves at least ``minPx`` between labels. */
export function ticks(total: number, width: number, minPx = 64): number[] {
  if (total <= 0 || width <= 0) return [0]
  const fit = Math.max(1, Math.floor(width / minPx))
  const step = (STEPS_S.find((s) => (total / 1000 / s) <= fit) ?? STEPS_S[STEPS_S.length - 1] ?? 86400) * 1000
  const out: number[] = []
  for (let t = 0; t <= total && out.length < 200; t += step) out.push(t)
  return out
}

export function drawAxis(axis: HTMLElement, total: number, label: (ms: number) => string): void {
  const width = axis.clientWidth
  const nodes = ticks(total, width).map((t) => {
    const tick = document.createElement('span')
    // a label that would stick out past the track's end is drawn to the left of its tick
    tick.className = total > 0 && (1 - t / total) * width < 24 ? 'tick end' : 'tick'
    tick.style.left = `${total > 0 ? (t / total) * 100 : 0}%`
    tick.dataset.ms = String(t)
    tick.textContent = label(t)
    return tick
  })
  axis.replaceChildren(...nodes)
}

/** Epoch ms at a click on the timeline (or the time of the marker clicked). */
export function timeAt(event: MouseEvent, track: HTMLElement, base: number, total: number): number {
  const marker = event.target instanceof HTMLElement ? event.target.closest<HTMLElement>('.marker') : null
  if (marker?.dataset.ms) return Number(marker.dataset.ms)
  const rect = track.getBoundingClientRect()
  const at = rect.width > 0 ? (event.clientX - rect.left) / rect.width : 0
  return base + Math.min(1, Math.max(0, at)) * total
}
