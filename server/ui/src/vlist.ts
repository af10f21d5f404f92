// A virtualised list: only the rows in view (plus a margin) exist in the DOM, so a session
// with thousands of network requests scrolls and highlights as fast as one with ten.
//
// Keyboard: the list is one tab stop (a listbox); ↑ ↓ Home End PageUp PageDown move the
// focused row, Enter (or Space) opens it. DOM focus stays on the list box and the focused
// row is named by `aria-activedescendant`, so a row scrolled out and drawn again (a new
// element) keeps being the focused one.

export type RowRenderer<T> = (item: T, index: number) => HTMLElement

const OVERSCAN = 8
let lists = 0

export class VirtualList<T> {
  private readonly spacer: HTMLDivElement
  private readonly note: HTMLParagraphElement
  private readonly prefix: string
  private items: readonly T[]
  private active = -1
  private focused = -1
  private scheduled = false
  /** Called after each render with the range of rows in the DOM. */
  onRender: ((first: number, last: number) => void) | null = null

  constructor(
    private readonly box: HTMLElement,
    items: readonly T[],
    private readonly rowHeight: number,
    private readonly renderRow: RowRenderer<T>,
    private readonly onPick: (item: T, index: number, byKey: boolean) => void,
    private readonly empty: string,
  ) {
    this.items = items
    this.prefix = `${box.id || `vlist${++lists}`}-row-`
    this.spacer = document.createElement('div')
    this.spacer.className = 'vlist-spacer'
    this.note = document.createElement('p')
    this.note.className = 'empty'
    box.replaceChildren(this.spacer, this.note)
    box.tabIndex = 0
    box.setAttribute('role', 'listbox')
    box.addEventListener('scroll', () => this.schedule(), { passive: true })
    box.addEventListener('click', (event) => {
      const row = event.target instanceof Element ? event.target.closest<HTMLElement>('[data-index]') : null
      const index = Number(row?.dataset.index)
      const item = this.items[index]
      if (!row || item === undefined) return
      this.focused = index
      onPick(item, index, false)
      this.schedule()
    })
    box.addEventListener('keydown', (event) => this.onKey(event))
    // focus by Tab shows a focused row; focus by a click leaves the rows alone until the
    // click (drawing them again between mousedown and mouseup would lose the click)
    let pointer = false
    box.addEventListener('mousedown', () => (pointer = true))
    box.addEventListener('focus', () => {
      if (!pointer && this.focused < 0 && this.items.length) this.focus(Math.max(0, this.active))
      pointer = false
    })
    new ResizeObserver(() => this.schedule()).observe(box)
    this.setItems(items)
  }

  /** Shows other items (a filter changed); the highlight and the focus start over. */
  setItems(items: readonly T[]): void {
    this.items = items
    this.active = -1
    this.focused = -1
    this.box.removeAttribute('aria-activedescendant')
    this.spacer.style.height = `${items.length * this.rowHeight}px`
    this.note.textContent = this.empty
    this.note.hidden = items.length > 0
    this.render()
  }

  /** Sets the text shown when there is no row (e.g. "No request matches these filters"). */
  setEmpty(text: string): void {
    this.note.textContent = text
  }

  get length(): number {
    return this.items.length
  }

  /** Highlights row ``index``; with ``follow``, scrolls it into view when it is outside. */
  setActive(index: number, follow: boolean): void {
    if (index === this.active) return
    this.active = index
    if (follow && index >= 0) this.reveal(index)
    this.schedule()
  }

  /** Draws the rows again (their data changed). */
  refresh(): void {
    this.schedule()
  }

  private reveal(index: number): void {
    const top = index * this.rowHeight
    const { scrollTop, clientHeight } = this.box
    if (top < scrollTop || top + this.rowHeight > scrollTop + clientHeight) {
      this.box.scrollTop = Math.max(0, top - clientHeight / 3)
    }
  }

  private focus(index: number): void {
    if (!this.items.length) return
    this.focused = Math.min(this.items.length - 1, Math.max(0, index))
    this.box.setAttribute('aria-activedescendant', this.prefix + this.focused)
    this.reveal(this.focused)
    this.render()
  }

  private onKey(event: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(this.box.clientHeight / this.rowHeight) - 1)
    const moves: Record<string, number> = {
      ArrowDown: this.focused + 1,
      ArrowUp: this.focused - 1,
      PageDown: this.focused + page,
      PageUp: this.focused - page,
      Home: 0,
      End: this.items.length - 1,
    }
    const to = moves[event.key]
    if (to !== undefined) {
      event.preventDefault()
      this.focus(this.focused < 0 ? Math.max(0, this.active) : to)
      return
    }
    if (event.key === 'Enter' || event.key === ' ') {
      const item = this.items[this.focused]
      if (item === undefined) return
      event.preventDefault()
      event.stopPropagation() // Space opens the row here, it does not play the replay
      this.onPick(item, this.focused, true)
    }
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
      row.id = this.prefix + i
      row.dataset.index = String(i)
      row.setAttribute('role', 'option')
      row.setAttribute('aria-selected', String(i === this.focused))
      row.classList.add('vrow')
      if (i === this.active) row.classList.add('active')
      if (i === this.focused) row.classList.add('focused')
      row.style.top = `${i * this.rowHeight}px`
      row.style.height = `${this.rowHeight}px`
      rows.push(row)
    }
    this.spacer.replaceChildren(...rows)
    this.onRender?.(first, last)
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    requestAnimationFrame(() => {
      this.scheduled = false
      this.render()
    })
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
