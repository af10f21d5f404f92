// The request drawer of the session page: a side panel beside the player (see session.css)
// that shows the request view the server renders (/requests/{id}?fragment=1), or, for an
// error without a request, its stack (stack.ts: the same markup as the server's
// _stack.html). Its link names what it opens, and is set by every view (bug 1: it kept
// "open the error group" after a network row). Escape closes it and gives the focus back.
import { getHTML } from './api'
import { el } from './format'
import { renderStack } from './stack'
import type { ErrorRow } from './types'

export class RequestPanel {
  private readonly body: HTMLElement
  private readonly link: HTMLAnchorElement
  private readonly title: HTMLElement
  private loading = ''
  private returnFocus: HTMLElement | null = null
  /** Called after the drawer opened or closed. */
  onToggle: (open: boolean) => void = () => {}

  constructor(private readonly panel: HTMLElement) {
    this.body = panel.querySelector<HTMLElement>('#request-body') ?? panel
    this.link = panel.querySelector<HTMLAnchorElement>('#request-link') ?? el('a', '')
    this.title = panel.querySelector<HTMLElement>('#request-title') ?? el('strong', '')
    panel.querySelector('#request-close')?.addEventListener('click', () => this.close())
    panel.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.stopPropagation()
        this.close()
      }
    })
  }

  get isOpen(): boolean {
    return !this.panel.hidden
  }

  /** Opens request ``requestId``; with ``focus``, the focus moves into the drawer. */
  async openRequest(requestId: string, focus = false): Promise<void> {
    if (this.loading === requestId && this.isOpen) {
      if (focus) this.focus()
      return
    }
    this.loading = requestId
    const path = `/requests/${encodeURIComponent(requestId)}`
    this.setLink('Request', path, 'open on its own page')
    this.body.replaceChildren(el('p', 'muted', 'Loading request…'))
    delete this.panel.dataset.errorId
    this.show(focus)
    const html = await getHTML(`${path}?fragment=1`)
    if (this.loading !== requestId) return
    this.body.innerHTML = html
    this.panel.dataset.requestId = requestId
    this.body.dispatchEvent(new CustomEvent('backlight:content', { bubbles: true }))
  }

  /** Shows ``error``'s stack (an error without a request, or a frontend error). */
  showError(error: ErrorRow, focus = false, openRequest: ((id: string) => void) | null = null): void {
    this.loading = ''
    this.setLink('Error', `/errors/${error.group_id}`, 'open the error group')
    const card = el('div', 'error-card')
    const title = el('div', 'error-title')
    title.append(el('span', `badge ${error.source === 'frontend' ? 'fe' : 'be'}`,
      error.source === 'frontend' ? 'frontend' : (error.service ?? 'backend')), ' ',
    el('strong', '', error.type), document.createTextNode(`: ${error.message}`))
    card.append(title)
    if (error.stack?.length) card.append(renderStack(error.stack))
    else card.append(el('p', 'muted', 'No stack was recorded for this error.'))
    const rid = error.request_id
    if (rid && openRequest) {
      const more = el('button', 'small-btn open-error-request', 'Show the request it happened in')
      more.type = 'button'
      more.addEventListener('click', () => openRequest(rid))
      card.append(more)
    }
    this.body.replaceChildren(card)
    delete this.panel.dataset.requestId
    this.panel.dataset.errorId = String(error.id)
    this.show(focus)
  }

  private setLink(title: string, href: string, text: string): void {
    this.title.textContent = title
    this.link.href = href
    this.link.textContent = text
    this.link.hidden = false
  }

  private show(focus: boolean): void {
    const wasHidden = this.panel.hidden
    if (wasHidden) {
      const active = document.activeElement
      this.returnFocus = active instanceof HTMLElement && active !== document.body ? active : null
    }
    this.panel.hidden = false
    this.body.scrollTop = 0
    if (focus) this.focus()
    if (wasHidden) this.onToggle(true)
  }

  private focus(): void {
    this.panel.focus({ preventScroll: true })
  }

  close(): void {
    if (this.panel.hidden) return
    this.loading = ''
    this.panel.hidden = true
    delete this.panel.dataset.requestId
    delete this.panel.dataset.errorId
    if (this.panel.contains(document.activeElement)) this.returnFocus?.focus({ preventScroll: true })
    this.onToggle(false)
  }
}
