// Waterfalls (server-rendered by _waterfall.html, on the trace page, the request page and
// the session page's request view): a span row is a button; pressing it shows that span's
// details in the panel beside. ↑ / ↓ move between rows, Home / End to the first / last.
// Delegated from the document, so request views inserted later work without setup.
import './waterfall.css'

function rowsOf(box: Element): HTMLButtonElement[] {
  return [...box.querySelectorAll<HTMLButtonElement>('button[data-wf-row]')]
}

function select(button: HTMLButtonElement): void {
  const box = button.closest('[data-waterfall]')
  if (!box) return
  for (const row of rowsOf(box)) {
    const on = row === button
    row.setAttribute('aria-pressed', on ? 'true' : 'false')
    const detail = document.getElementById(row.getAttribute('aria-controls') ?? '')
    if (detail) detail.hidden = !on
  }
}

function onClick(event: MouseEvent): void {
  const target = event.target instanceof Element ? event.target : null
  const row = target?.closest<HTMLButtonElement>('button[data-wf-row]')
  if (row) select(row)
}

function onKey(event: KeyboardEvent): void {
  const target = event.target instanceof Element ? event.target : null
  const row = target?.closest<HTMLButtonElement>('button[data-wf-row]')
  const box = row?.closest('[data-waterfall]')
  if (!row || !box) return
  const rows = rowsOf(box)
  const at = rows.indexOf(row)
  const to =
    event.key === 'ArrowDown' ? at + 1
    : event.key === 'ArrowUp' ? at - 1
    : event.key === 'Home' ? 0
    : event.key === 'End' ? rows.length - 1
    : -1
  const next = rows[to]
  if (to < 0 || !next) return
  event.preventDefault()
  next.focus()
  select(next)
}

document.addEventListener('click', onClick)
document.addEventListener('keydown', onKey)
