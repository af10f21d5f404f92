// The request view inside the session page: the server renders it (/requests/{id}?fragment=1),
// this module shows it. Frontend errors without a request show their stack here instead
// (stack.ts: the same markup as the server's _stack.html).
import { getHTML } from './api'
import { el } from './format'
import { renderStack } from './stack'
import type { ErrorRow } from './types'

export class RequestPanel {
  private readonly body: HTMLElement
  private readonly link: HTMLAnchorElement
  private loading = ''

  constructor(private readonly panel: HTMLElement) {
    this.body = panel.querySelector<HTMLElement>('#request-body') ?? panel
    this.link = panel.querySelector<HTMLAnchorElement>('#request-link') ?? el('a', '')
    panel.querySelector('#request-close')?.addEventListener('click', () => this.close())
  }

  async openRequest(requestId: string): Promise<void> {
    if (this.loading === requestId) return
    this.loading = requestId
    const path = `/requests/${encodeURIComponent(requestId)}`
    this.link.href = path
    this.link.hidden = false
    this.body.replaceChildren(el('p', 'muted', 'Loading request…'))
    this.show()
    const html = await getHTML(`${path}?fragment=1`)
    if (this.loading !== requestId) return
    this.body.innerHTML = html
    this.panel.dataset.requestId = requestId
    this.body.dispatchEvent(new CustomEvent('backlight:content', { bubbles: true }))
  }

  showError(error: ErrorRow): void {
    this.loading = ''
    this.link.href = `/errors/${error.group_id}`
    this.link.textContent = 'open the error group'
    const card = el('div', 'error-card')
    const title = el('div', 'error-title')
    title.append(el('strong', '', error.type), document.createTextNode(`: ${error.message}`))
    card.append(title)
    if (error.stack?.length) card.append(renderStack(error.stack))
    this.body.replaceChildren(card)
    delete this.panel.dataset.requestId
    this.show()
  }

  private show(): void {
    const wasHidden = this.panel.hidden
    this.panel.hidden = false
    if (wasHidden) this.panel.scrollIntoView({ block: 'nearest', behavior: 'smooth' })
  }

  close(): void {
    this.loading = ''
    this.panel.hidden = true
    delete this.panel.dataset.requestId
  }
}
