// The alert rule form (/alerts/new, /alerts/rules/{id}): trigger kinds, channel cards,
// the inputs read back into the API's JSON, and each refusal shown next to its field.
// Every input names its path in the rule (data-field), how to read it (data-type) and what
// an empty input sends (data-empty: null, omit, string); see ui/alert_form.py.
import { call, fieldErrors, type Json, Refusal, rulePath } from './alert_api'

type Input = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement
const OMIT = Symbol('omit')

function read(input: Input): unknown {
  const type = input.dataset.type
  if (type === 'bool') return (input as HTMLInputElement).checked
  const raw = input.hasAttribute('data-secret') ? input.value : input.value.trim()
  if (raw === '') {
    const empty = input.dataset.empty
    return empty === 'null' ? null : empty === 'string' ? '' : OMIT
  }
  if (type === 'number') return Number.isFinite(Number(raw)) ? Number(raw) : raw
  if (type === 'lines') {
    return raw
      .split(/[\n,]/)
      .map((s) => s.trim())
      .filter(Boolean)
  }
  return raw
}

function put(target: Json, path: string, value: unknown): void {
  const keys = path.split('.')
  let node = target
  for (const key of keys.slice(0, -1)) {
    if (!node[key] || typeof node[key] !== 'object') node[key] = {}
    node = node[key] as Json
  }
  node[keys[keys.length - 1] ?? ''] = value
}

function readInto(target: Json, inputs: Iterable<Input>, prefix = ''): void {
  for (const input of inputs) {
    const value = read(input)
    if (value !== OMIT) put(target, prefix + (input.dataset.field ?? ''), value)
  }
}

function fieldsIn(root: ParentNode): Input[] {
  return [...root.querySelectorAll<Input>('[data-field]')]
}

class RuleForm {
  readonly channels: HTMLElement

  constructor(readonly form: HTMLFormElement) {
    this.channels = form.querySelector<HTMLElement>('#channels') as HTMLElement
    form.addEventListener('change', (e) => this.onChange(e))
    form.addEventListener('input', (e) => this.onChange(e))
    form.addEventListener('click', (e) => this.onClick(e))
    form.addEventListener('focusin', (e) => this.onFocus(e))
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      void this.save()
    })
    document.getElementById('add-channel')?.addEventListener('click', () => this.addChannel())
    this.showKind(this.kind())
  }

  kind(): string {
    return this.form.querySelector<HTMLInputElement>('input[data-trigger-kind]:checked')?.value ?? ''
  }

  showKind(kind: string): void {
    for (const box of this.form.querySelectorAll<HTMLElement>('[data-variant]')) {
      box.hidden = box.dataset.variant !== kind
    }
  }

  cards(): HTMLElement[] {
    return [...this.channels.querySelectorAll<HTMLElement>(':scope > .channel-card')]
  }

  renumber(): void {
    this.cards().forEach((card, i) => {
      const label = card.querySelector('[data-channel-number]')
      if (label) label.textContent = `#${i + 1}`
    })
    const none = document.getElementById('no-channels')
    if (none) none.hidden = this.cards().length > 0
  }

  addChannel(): void {
    const kind = document.querySelector<HTMLSelectElement>('#add-kind')?.value ?? ''
    const template = document.querySelector<HTMLTemplateElement>(
      `template[data-channel-template="${CSS.escape(kind)}"]`,
    )
    const card = template?.content.firstElementChild?.cloneNode(true)
    if (!(card instanceof HTMLElement)) return
    this.channels.append(card)
    this.renumber()
    card.querySelector<Input>('[data-field]')?.focus()
  }

  onChange(event: Event): void {
    const target = event.target
    if (target instanceof HTMLInputElement && target.hasAttribute('data-trigger-kind')) {
      this.showKind(target.value)
    }
    if (target instanceof HTMLElement) this.clearError(target.closest<HTMLElement>('[data-box]'))
  }

  onClick(event: Event): void {
    const target = event.target instanceof Element ? event.target : null
    const remove = target?.closest('[data-remove-channel]')
    if (remove) {
      remove.closest('.channel-card')?.remove()
      this.renumber()
    }
  }

  onFocus(event: Event): void {
    // A masked secret is kept unless replaced: selecting it lets typing replace it whole.
    const target = event.target
    if (target instanceof HTMLInputElement && target.hasAttribute('data-secret')) {
      if (target.value.startsWith('••••')) target.select()
    }
  }

  body(): Json {
    const body: Json = {}
    const ruleInputs = fieldsIn(this.form).filter(
      (i) => !i.closest('.channel-card') && !i.closest('[data-variant]'),
    )
    readInto(body, ruleInputs)
    const kind = this.kind()
    const trigger: Json = { kind }
    const variant = this.form.querySelector<HTMLElement>(`[data-variant="${CSS.escape(kind)}"]`)
    readInto(body, variant ? fieldsIn(variant) : [])
    body.trigger = { ...trigger, ...((body.trigger as Json | undefined) ?? {}) }
    body.channels = this.cards().map((card) => {
      const channel: Json = { kind: card.dataset.channelKind }
      readInto(channel, fieldsIn(card))
      return channel
    })
    const muted = this.form.dataset.mutedUntil
    if (muted) body.muted_until_ms = Number(muted)
    return body
  }

  clearError(box: HTMLElement | null): void {
    const slot = box?.querySelector<HTMLElement>(':scope > .field-error')
    if (slot) slot.hidden = true
    box?.classList.remove('invalid')
    box?.querySelector('[aria-invalid]')?.removeAttribute('aria-invalid')
  }

  clearErrors(): void {
    for (const box of this.form.querySelectorAll<HTMLElement>('[data-box]')) this.clearError(box)
    for (const slot of this.form.querySelectorAll<HTMLElement>('.card-error')) slot.hidden = true
    const general = this.form.querySelector<HTMLElement>('.form-error')
    if (general) general.hidden = true
  }

  /** The box (a field's label, a channel card, a section) that shows an error at `path`:
   * the field itself, else the nearest enclosing one. */
  boxFor(path: string): HTMLElement | null {
    const tokens = path.split('.')
    if (tokens[0] === 'channels' && tokens.length > 1) {
      const card = this.cards()[Number(tokens[1])]
      if (card) {
        const input = card.querySelector<Input>(`[data-field="${CSS.escape(tokens[2] ?? '')}"]`)
        return input?.closest<HTMLElement>('[data-box]') ?? card
      }
    }
    const scope =
      tokens[0] === 'trigger'
        ? this.form.querySelector<HTMLElement>(`[data-variant="${CSS.escape(this.kind())}"]`)
        : this.form
    for (let n = tokens.length; n > 0; n--) {
      const name = CSS.escape(tokens.slice(0, n).join('.'))
      const input = scope?.querySelector<Input>(`[data-field="${name}"]`)
      const box = input?.closest<HTMLElement>('[data-box]')
      if (box) return box
      const section = this.form.querySelector<HTMLElement>(`[data-box="${name}"]`)
      if (section) return section
    }
    return null
  }

  showErrors(refusal: Refusal): void {
    const general: string[] = []
    for (const { path, message } of fieldErrors(refusal.detail)) {
      const box = path ? this.boxFor(path) : null
      const slot =
        box?.querySelector<HTMLElement>(':scope > .field-error') ??
        box?.querySelector<HTMLElement>('.card-error')
      if (!box || !slot) {
        general.push(path ? `${path}: ${message}` : message)
        continue
      }
      const last = path.split('.').pop() ?? ''
      const named = box.querySelector<Input>(`[data-field]`)?.dataset.field ?? ''
      // a message about a part of the field (an item of a list) keeps that part's name
      const item = /^\d+$/.test(last) && named && !path.endsWith(named)
      slot.textContent = item ? `item ${Number(last) + 1}: ${message}` : message
      slot.hidden = false
      box.classList.add('invalid')
      box.querySelector<Input>('[data-field]')?.setAttribute('aria-invalid', 'true')
    }
    const box = this.form.querySelector<HTMLElement>('.form-error')
    if (box) {
      const head = refusal.status === 400 ? 'The rule was not saved.' : `The server refused (HTTP ${refusal.status}).`
      box.textContent = general.length ? `${head} ${general.join('; ')}` : `${head} See the marked fields.`
      box.hidden = false
    }
    this.form.querySelector<HTMLElement>('.invalid')?.scrollIntoView({ block: 'center' })
  }

  async save(): Promise<void> {
    this.clearErrors()
    const id = this.form.dataset.ruleId
    const button = this.form.querySelector<HTMLButtonElement>('#save-rule')
    if (button) button.disabled = true
    try {
      const saved = id
        ? await call<Json>('PUT', rulePath(id), this.body())
        : await call<Json>('POST', '/api/v1/alert-rules', this.body())
      location.assign(`/alerts?saved=${encodeURIComponent(String(saved.id ?? ''))}`)
    } catch (err) {
      this.showErrors(err instanceof Refusal ? err : new Refusal(0, 'error', String(err)))
    } finally {
      if (button) button.disabled = false
    }
  }
}

export function initRuleForm(): void {
  const form = document.getElementById('rule-form')
  if (form instanceof HTMLFormElement) new RuleForm(form)
}
