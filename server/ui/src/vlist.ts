// A virtualised list: only the rows in view (plus a margin) exist in the DOM, so a session
// with thousands of network requests scrolls and highlights as fast as one with ten.

export type RowRenderer<T> = (item: T, index: number) => HTMLElement

const OVERSCAN = 8

export class VirtualList<T> {
  private readonly spacer: HTMLDivElement
  private active = -1
  private scheduled = false
  /** Called after each render with the range of rows in the DOM. */
  onRender: ((first: number, last: number) => void) | null = null

  constructor(
    private readonly box: HTMLElement,
    private readonly items: readonly T[],
    private readonly rowHeight: number,
    private readonly renderRow: RowRenderer<T>,
    onPick: (item: T, index: number) => void,
    empty: string,
  ) {
    this.spacer = document.createElement('div')
    this.spacer.className = 'vlist-spacer'
    this.spacer.style.height = `${items.length * rowHeight}px`
    box.replaceChildren(this.spacer)
    if (items.length === 0) {
      const note = document.createElement('p')
      note.className = 'empty'
      note.textContent = empty
      box.append(note)
    }
    box.addEventListener('scroll', () => this.schedule(), { passive: true })
    box.addEventListener('click', (event) => {
      const row = event.target instanceof Element ? event.target.closest<HTMLElement>('[data-index]') : null
      const index = Number(row?.dataset.index)
      const item = this.items[index]
      if (row && item !== undefined) onPick(item, index)
    })
    new ResizeObserver(() => this.schedule()).observe(box)
    this.render()
  }

  /** Highlights row ``index``; with ``follow``, scrolls it into view when it is outside. */
  setActive(index: number, follow: boolean): void {
    if (index === this.active) return
    this.active = index
    if (follow && index >= 0) {
      const top = index * this.rowHeight
      const { scrollTop, clientHeight } = this.box
      if (top < scrollTop || top + this.rowHeight > scrollTop + clientHeight) {
        this.box.scrollTop = Math.max(0, top - clientHeight / 3)
      }
    }
    this.schedule()
  }

  /** Draws the rows again (their data changed). */
  refresh(): void {
    this.schedule()
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    requestAnimationFrame(() => {
      this.scheduled = false
      this.render()
    })
  }

  private render(): void {
    const { scrollTop, clientHeight } = this.box
    const first = Math.max(0, Math.floor(scrollTop / this.rowHeight) - OVERSCAN)
    const last = Math.min(this.items.length, Math.ceil((scrollTop + clientHeight) / this.rowHeight) + OVERSCAN)
    const rows: HTMLElement[] = []
    for (let i = first; i < last; i++) {
      const item = this.items[i]
      if (item === undefined) continue
      const row = this.renderRow(item, i)
      row.dataset.index = String(i)
      row.classList.add('vrow')
      if (i === this.active) row.classList.add('active')
      row.style.top = `${i * this.rowHeight}px`
      row.style.height = `${this.rowHeight}px`
      rows.push(row)
    }
    this.spacer.replaceChildren(...rows)
    this.onRender?.(first, last)
  }
}

/** Index of the last item whose time is ≤ ``t`` in ascending ``times`` (-1 if none). */
export function lastAtOrBefore(times: readonly number[], t: number): number {
  let lo = 0
  let hi = times.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((times[mid] ?? Infinity) <= t) lo = mid + 1
    else hi = mid
  }
  return lo - 1
}
