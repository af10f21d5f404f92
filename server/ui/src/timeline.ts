// The timeline under the player: one lane per kind of mark, bucketed so that thousands of
// network requests draw as a few hundred markers.

export type Mark = { ms: number; label: string; bad?: boolean }

const BUCKETS = 240

export function drawLane(
  track: HTMLElement,
  marks: readonly Mark[],
  base: number,
  total: number,
): void {
  const buckets = new Map<number, { ms: number; labels: string[]; bad: boolean }>()
  for (const mark of marks) {
    const at = total > 0 ? Math.min(1, Math.max(0, (mark.ms - base) / total)) : 0
    const key = Math.round(at * BUCKETS)
    const bucket = buckets.get(key) ?? { ms: mark.ms, labels: [], bad: false }
    if (bucket.labels.length < 5) bucket.labels.push(mark.label)
    else if (bucket.labels.length === 5) bucket.labels.push('…')
    bucket.bad ||= Boolean(mark.bad)
    buckets.set(key, bucket)
  }
  const nodes: HTMLElement[] = []
  for (const [key, bucket] of buckets) {
    const node = document.createElement('button')
    node.type = 'button'
    node.className = bucket.bad ? 'marker bad' : 'marker'
    node.style.left = `${(key / BUCKETS) * 100}%`
    node.title = bucket.labels.join('\n')
    node.dataset.ms = String(bucket.ms)
    nodes.push(node)
  }
  track.replaceChildren(...nodes)
}

/** Epoch ms at a click on the timeline (or the time of the marker clicked). */
export function timeAt(event: MouseEvent, track: HTMLElement, base: number, total: number): number {
  const marker = event.target instanceof HTMLElement ? event.target.closest<HTMLElement>('.marker') : null
  if (marker?.dataset.ms) return Number(marker.dataset.ms)
  const rect = track.getBoundingClientRect()
  const at = rect.width > 0 ? (event.clientX - rect.left) / rect.width : 0
  return base + Math.min(1, Math.max(0, at)) * total
}
