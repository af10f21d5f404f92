// Every page: relative times, error-group state actions, copy buttons, auto-submitting selects.
import './style.css'
import './waterfall' // span rows → the details panel (trace, request and session pages)
import { patchJSON } from './api'
import { showTime } from './format'

/** Every `<time data-ms>` under root: relative ("3 min ago"), absolute local time and zone
 * on hover (the server rendered them absolute in UTC, for a page without JS). */
function localizeTimes(root: ParentNode): void {
  const now = Date.now()
  for (const node of root.querySelectorAll<HTMLTimeElement>('time[data-ms]')) {
    const ms = Number(node.dataset.ms)
    if (!node.dataset.ms || !Number.isFinite(ms)) continue
    showTime(node, ms, node.hasAttribute('data-precise'), now)
  }
}

type StateAnswer = { id: number; state: string }

async function setState(box: HTMLElement, state: string): Promise<void> {
  const id = box.dataset.group
  const label = box.querySelector<HTMLElement>('[data-state]')
  if (!id || !label) return
  box.classList.add('busy')
  try {
    const answer = await patchJSON<StateAnswer>(`/api/v1/error-groups/${id}`, { state })
    label.textContent = answer.state
    label.className = `state state-${answer.state}`
    for (const button of box.querySelectorAll<HTMLButtonElement>('button[data-set-state]')) {
      button.hidden = button.dataset.setState === answer.state
    }
  } catch (err) {
    label.textContent = 'failed'
    console.warn('could not change the state', err)
  } finally {
    box.classList.remove('busy')
  }
}

function onClick(event: MouseEvent): void {
  const target = event.target instanceof Element ? event.target : null
  const stateButton = target?.closest<HTMLButtonElement>('button[data-set-state]')
  const box = stateButton?.closest<HTMLElement>('.state-actions')
  if (stateButton && box) {
    void setState(box, stateButton.dataset.setState ?? 'open')
    return
  }
  const copy = target?.closest<HTMLButtonElement>('button[data-copy]')
  if (copy) {
    const text = document.getElementById(copy.dataset.copy ?? '')?.textContent ?? ''
    navigator.clipboard?.writeText(text).then(
      () => (copy.textContent = 'Copied'),
      () => (copy.textContent = 'Select and copy'),
    )
  }
}

function autosubmit(): void {
  for (const select of document.querySelectorAll<HTMLSelectElement>('select[data-autosubmit]')) {
    select.addEventListener('change', () => select.form?.submit())
  }
}

localizeTimes(document)
// "3 min ago" ages: refreshed every half minute while the page is open
setInterval(() => localizeTimes(document), 30_000)
autosubmit()
document.addEventListener('click', onClick)
// The session page inserts request views later; it asks for their times to be localized.
document.addEventListener('backlight:content', (e) => localizeTimes(e.target as ParentNode))
