// The Alerts page (/alerts): on/off, mute, "Send a test message" and delete, each through
// the JSON API; and the rule form (/alerts/new, /alerts/rules/{id}, in alert_form.ts).
import { call, type Json, Refusal, rulePath, updateRule } from './alert_api'
import { initRuleForm } from './alert_form'
import { el, showTime } from './format'

const FOREVER_AFTER = 4e12 // a mute ending after this is "until unmuted" (ui/alerts.py)

type TestResult = { channel: number; kind: string; ok: boolean; status: number | null; error: string }

const why = (err: unknown): string => (err instanceof Refusal ? err.message : String(err))

function ruleId(row: HTMLElement): string {
  return row.dataset.ruleId ?? ''
}

/** The line under a rule's row that shows what an action did. */
function say(row: HTMLElement, content: string | Node, error = false): void {
  const extra = row.parentElement?.querySelector<HTMLElement>(
    `tr.rule-extra[data-for-rule="${CSS.escape(ruleId(row))}"]`,
  )
  const box = extra?.querySelector<HTMLElement>('.rule-message')
  if (!extra || !box) return
  box.replaceChildren(content)
  box.classList.toggle('error-text', error)
  extra.hidden = false
}

function showMute(row: HTMLElement, until: unknown): void {
  const state = row.querySelector<HTMLElement>('.muted-state')
  const menu = row.querySelector<HTMLDetailsElement>('details.menu')
  const unmute = row.querySelector<HTMLButtonElement>('button[data-mute="0"]')
  if (!state || !menu || !unmute) return
  const ms = typeof until === 'number' && until > Date.now() ? until : null
  state.dataset.mutedUntil = ms === null ? '' : String(ms)
  if (ms === null) state.replaceChildren(el('span', 'muted', 'no'))
  else if (ms >= FOREVER_AFTER) state.replaceChildren('until unmuted')
  else {
    const time = el('time', '')
    showTime(time, ms)
    state.replaceChildren('ends ', time)
  }
  menu.open = false
  unmute.hidden = ms === null
}

async function setEnabled(row: HTMLElement, input: HTMLInputElement): Promise<void> {
  const on = input.checked
  const text = row.querySelector<HTMLElement>('.switch-text')
  input.disabled = true
  try {
    const rule = await updateRule(ruleId(row), (body) => ({ ...body, enabled: on }))
    input.checked = rule.enabled === true
    if (text) text.textContent = input.checked ? 'on' : 'off'
  } catch (err) {
    input.checked = !on
    say(row, `Not changed: ${why(err)}`, true)
  } finally {
    input.disabled = false
  }
}

async function mute(row: HTMLElement, how: string): Promise<void> {
  const until =
    how === '0'
      ? null
      : how === 'forever'
        ? Number(document.getElementById('alert-rules')?.dataset.foreverMs)
        : Date.now() + Number(how)
  try {
    const rule = await updateRule(ruleId(row), (body) => ({ ...body, muted_until_ms: until }))
    showMute(row, rule.muted_until_ms)
  } catch (err) {
    say(row, `Not changed: ${why(err)}`, true)
  }
}

function detail(r: TestResult): string {
  const status = r.status === null ? '' : `HTTP ${r.status}`
  return [status, r.error].filter(Boolean).join(': ')
}

async function sendTest(row: HTMLElement, button: HTMLButtonElement): Promise<void> {
  const label = button.textContent
  button.disabled = true
  button.textContent = 'Sending…'
  say(row, 'Sending a test message to each channel…')
  try {
    const answer = await call<{ results: TestResult[] }>('POST', `${rulePath(ruleId(row))}/test`)
    const list = el('ul', 'test-results')
    for (const r of answer.results) {
      const item = el('li', r.ok ? 'test-ok' : 'test-failed')
      item.dataset.channel = String(r.channel)
      item.append(el('span', `badge ch ch-${r.kind}`, r.kind), ` #${r.channel + 1} `)
      item.append(el('span', `badge ${r.ok ? 'ok' : 'failed'}`, r.ok ? 'delivered' : 'failed'))
      item.append(' ', el('span', 'small test-detail', detail(r)))
      list.append(item)
    }
    const box = el('div', '')
    box.append(el('strong', '', 'Test message: '), list)
    say(row, box)
    await refresh(row)
  } catch (err) {
    say(row, `The test message was not sent: ${why(err)}`, true)
  } finally {
    button.disabled = false
    button.textContent = label
  }
}

/** The delivery log and the rule's last delivery as the server renders them now (a test
 * message has just added to both). */
async function refresh(row: HTMLElement): Promise<void> {
  const response = await fetch(location.href, { headers: { accept: 'text/html' } })
  if (!response.ok) return
  const fresh = new DOMParser().parseFromString(await response.text(), 'text/html')
  const id = CSS.escape(ruleId(row))
  const pairs: [Element | null, Element | null][] = [
    [document.getElementById('deliveries'), fresh.getElementById('deliveries')],
    [
      row.querySelector('.last-cell'),
      fresh.querySelector(`tr.rule-row[data-rule-id="${id}"] .last-cell`),
    ],
  ]
  for (const [old, now] of pairs) {
    if (!old || !now) continue
    const adopted = document.importNode(now, true)
    old.replaceWith(adopted)
    adopted.dispatchEvent(new CustomEvent('backlight:content', { bubbles: true }))
  }
}

function askDelete(row: HTMLElement): void {
  const dialog = document.getElementById('confirm-delete')
  if (!(dialog instanceof HTMLDialogElement)) return
  const name = dialog.querySelector<HTMLElement>('[data-name]')
  if (name) name.textContent = row.dataset.ruleName ?? ruleId(row)
  dialog.returnValue = ''
  dialog.addEventListener(
    'close',
    () => {
      if (dialog.returnValue === 'delete') void remove(row)
    },
    { once: true },
  )
  dialog.showModal()
}

async function remove(row: HTMLElement): Promise<void> {
  try {
    await call<Json>('DELETE', rulePath(ruleId(row)))
  } catch (err) {
    say(row, `Not deleted: ${why(err)}`, true)
    return
  }
  const body = row.parentElement
  body?.querySelector(`tr.rule-extra[data-for-rule="${CSS.escape(ruleId(row))}"]`)?.remove()
  row.remove()
  status(`Deleted the rule “${row.dataset.ruleName ?? ''}”.`)
  if (body && !body.querySelector('tr.rule-row')) {
    // the same markup as the server's empty row (templates/_empty.html)
    const empty = el('tr', 'empty-row no-data no-rules')
    const cell = el('td', 'empty')
    cell.colSpan = 7
    const next = el('p', 'empty-next')
    const link = el('a', '', 'Make one')
    link.href = '/alerts/new'
    next.append(link, ' to hear about new errors, regressions, spikes or matching logs.')
    cell.append(el('p', 'empty-title', 'No alert rules yet.'), next)
    empty.append(cell)
    body.append(empty)
  }
}

function status(text: string): void {
  const box = document.getElementById('alerts-status')
  if (!box) return
  box.textContent = text
  box.hidden = false
}

function onClick(event: MouseEvent): void {
  const target = event.target instanceof Element ? event.target : null
  const row = target?.closest<HTMLElement>('tr.rule-row')
  const button = target?.closest<HTMLButtonElement>('button')
  if (!row || !button) return
  if (button.dataset.mute !== undefined) void mute(row, button.dataset.mute)
  else if (button.dataset.action === 'test') void sendTest(row, button)
  else if (button.dataset.action === 'delete') askDelete(row)
}

function initList(table: HTMLElement): void {
  table.addEventListener('click', onClick)
  table.addEventListener('change', (event) => {
    const input = event.target
    const row = input instanceof HTMLElement ? input.closest<HTMLElement>('tr.rule-row') : null
    if (row && input instanceof HTMLInputElement && input.dataset.action === 'enabled') {
      void setEnabled(row, input)
    }
  })
  const saved = new URLSearchParams(location.search).get('saved')
  const row = saved
    ? table.querySelector<HTMLElement>(`tr.rule-row[data-rule-id="${CSS.escape(saved)}"]`)
    : null
  if (row) {
    row.classList.add('just-saved')
    status(`Saved the rule “${row.dataset.ruleName ?? ''}”.`)
    const url = new URL(location.href)
    url.searchParams.delete('saved')
    history.replaceState(null, '', url)
  }
}

const table = document.getElementById('alert-rules')
if (table) initList(table)
initRuleForm()
