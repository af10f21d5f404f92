// The session page: replay player, timeline, Network / Console / Errors tabs with the row of
// the current player time highlighted, and the request view of a clicked row.
import '@rrweb/replay/dist/style.css'
import './session.css'
import { clock, duration, el } from './format'
import { Player, loadEvents } from './player'
import { RequestPanel } from './request_panel'
import { Summaries } from './summaries'
import { drawLane, timeAt, type Mark } from './timeline'
import type { ConsoleRow, ErrorRow, NetworkRow, SessionData } from './types'
import { VirtualList, lastAtOrBefore } from './vlist'

const ROW_HEIGHT = 30
const byId = <T extends HTMLElement>(id: string): T => {
  const node = document.getElementById(id)
  if (!node) throw new Error(`#${id} is missing`)
  return node as T
}

function networkRow(n: NetworkRow): HTMLElement {
  const failed = n.error !== null || n.status === 0 || n.status >= 400
  const row = el('div', failed ? 'net-row failed' : 'net-row')
  if (n.request_id) row.dataset.requestId = n.request_id
  row.append(
    el('span', 'method', n.method),
    el('span', 'url', n.url),
    el('span', `status s${Math.floor(n.status / 100)}`, n.status ? String(n.status) : (n.error ?? '–')),
    el('span', 'dur', duration(n.end_ms - n.start_ms)),
  )
  const b = n.backend
  const badge = el('span', 'be-badges')
  row.append(badge)
  row.title = n.url
  if (b === null) {
    if (n.request_id) badge.append(el('span', 'badge pending', '…'))
    return row
  }
  if (b.errors) badge.append(el('span', 'badge be', `${b.errors} err`))
  if (b.logs) badge.append(el('span', `badge logs lvl-${b.worst_level ?? 'info'}`, `${b.logs} log`))
  if (!b.errors && !b.logs && b.spans) badge.append(el('span', 'badge spans', `${b.spans} sp`))
  return row
}

function consoleRow(c: ConsoleRow, base: number): HTMLElement {
  const row = el('div', `con-row lvl-${c.level}`)
  row.append(el('span', 'at mono', clock(c.ts_ms - base)), el('span', 'level', c.level),
    el('span', 'msg', c.message))
  row.title = c.message
  return row
}

function errorRow(e: ErrorRow, base: number): HTMLElement {
  const frontend = e.source === 'frontend'
  const row = el('div', 'err-row')
  if (e.request_id) row.dataset.requestId = e.request_id
  row.append(el('span', 'at mono', clock(e.ts_ms - base)),
    el('span', `badge ${frontend ? 'fe' : 'be'}`, frontend ? 'frontend' : (e.service ?? 'backend')),
    el('span', 'msg', `${e.type}: ${e.message}`))
  row.title = `${e.type}: ${e.message}`
  return row
}

function setupTabs(): (name: string) => void {
  const tabs = document.querySelectorAll<HTMLButtonElement>('[role=tab][data-tab]')
  const select = (name: string): void => {
    for (const tab of tabs) tab.setAttribute('aria-selected', String(tab.dataset.tab === name))
    for (const panel of document.querySelectorAll<HTMLElement>('[data-panel]')) {
      panel.hidden = panel.dataset.panel !== name
    }
    // a list that was hidden has no height yet: let it measure itself now
    window.dispatchEvent(new Event('resize'))
  }
  for (const tab of tabs) tab.addEventListener('click', () => select(tab.dataset.tab ?? 'network'))
  return select
}

async function main(): Promise<void> {
  const root = byId<HTMLElement>('session')
  const data = JSON.parse(byId('session-data').textContent ?? '{}') as SessionData
  const selectTab = setupTabs()
  const panel = new RequestPanel(byId('request-panel'))
  const msg = byId<HTMLElement>('player-msg')

  let events: Awaited<ReturnType<typeof loadEvents>> = []
  const later: typeof events[] = []
  let grow = (page: typeof events): void => void later.push(page)
  try {
    events = await loadEvents(data.session.secure_id, (page) => grow(page))
  } catch (err) {
    console.warn('could not load the replay', err)
  }
  const player = new Player(byId('player'), events, {
    start: data.session.started_ms,
    end: data.session.last_ms,
  })
  if (player.hasReplay) msg.remove()
  else msg.textContent = 'No replay was recorded for this session.'
  const base = player.base

  const seekTo = (ms: number): void => {
    player.seek(ms - base)
    tick(true)
  }
  const lists = {
    network: new VirtualList(byId('list-network'), data.network, ROW_HEIGHT, networkRow, (n) => {
      seekTo(n.start_ms)
      if (n.request_id) void panel.openRequest(n.request_id)
    }, 'No network requests recorded.'),
    console: new VirtualList(byId('list-console'), data.console, ROW_HEIGHT,
      (c) => consoleRow(c, base), (c) => seekTo(c.ts_ms), 'No console messages recorded.'),
    errors: new VirtualList(byId('list-errors'), data.errors, ROW_HEIGHT,
      (e) => errorRow(e, base), (e) => {
        seekTo(e.ts_ms)
        if (e.request_id) void panel.openRequest(e.request_id)
        else panel.showError(e)
      }, 'No errors in this session.'),
  }
  const summaries = new Summaries(data.network, () => lists.network.refresh())
  lists.network.onRender = (first, last) => summaries.want(first, last)
  lists.network.refresh()
  const times = {
    network: data.network.map((n) => n.start_ms),
    console: data.console.map((c) => c.ts_ms),
    errors: data.errors.map((e) => e.ts_ms),
  }

  // timeline
  const lane = (name: string): HTMLElement =>
    root.querySelector<HTMLElement>(`[data-lane=${name}] .lane-track`) ?? el('div', '')
  const failedRequests = new Set(data.errors.map((e) => e.request_id))
  const marks: Record<string, Mark[]> = {
    network: data.network.map((n) => ({
      ms: n.start_ms,
      label: `${n.method} ${n.url} ${n.status || n.error || ''}`,
      bad: (n.backend?.errors ?? 0) > 0 || failedRequests.has(n.request_id) || n.status >= 500 ||
        n.error !== null,
    })),
    console: data.console.filter((c) => c.level === 'error').map((c) => ({ ms: c.ts_ms, label: c.message })),
    frontend: data.errors.filter((e) => e.source === 'frontend').map((e) => ({ ms: e.ts_ms, label: `${e.type}: ${e.message}`, bad: true })),
    backend: data.errors.filter((e) => e.source !== 'frontend').map((e) => ({ ms: e.ts_ms, label: `${e.type}: ${e.message}`, bad: true })),
  }
  const drawLanes = (): void => {
    for (const [name, list] of Object.entries(marks)) drawLane(lane(name), list, base, player.total)
  }
  drawLanes()
  const timeline = byId<HTMLElement>('timeline')
  timeline.addEventListener('click', (event) => {
    if (event.target === seek) return // the seek bar moves the player through its input event
    const track = (event.target as Element).closest<HTMLElement>('.lane-track') ?? lane('network')
    seekTo(timeAt(event, track, base, player.total))
  })

  // controls
  const play = byId<HTMLButtonElement>('play')
  const seek = byId<HTMLInputElement>('seek')
  const speed = byId<HTMLSelectElement>('speed')
  const skip = byId<HTMLInputElement>('skip')
  const clockLabel = byId<HTMLElement>('clock')
  const playhead = byId<HTMLElement>('playhead')
  const durationLabel = document.getElementById('session-duration')
  const showTotal = (): void => {
    seek.max = String(Math.round(player.total))
    // one duration: the header says what the player's clock says (the same span, see Player)
    if (durationLabel) durationLabel.textContent = clock(player.total)
  }
  showTotal()
  play.disabled = seek.disabled = !player.hasReplay
  play.addEventListener('click', () => {
    player.toggle()
    tick(false)
  })
  seek.addEventListener('input', () => {
    player.seek(Number(seek.value))
    tick(true)
  })
  const configure = (): void => player.configure(Number(speed.value), skip.checked)
  speed.addEventListener('change', configure)
  skip.addEventListener('change', configure)

  function tick(follow: boolean): void {
    const offset = player.current()
    const now = base + offset
    root.dataset.currentMs = String(Math.round(now))
    root.dataset.offsetMs = String(Math.round(offset))
    root.dataset.playing = String(player.isPlaying)
    play.textContent = player.isPlaying ? '❚❚' : '▶'
    play.setAttribute('aria-label', player.isPlaying ? 'Pause' : 'Play')
    if (document.activeElement !== seek) seek.value = String(Math.round(offset))
    clockLabel.textContent = `${clock(offset)} / ${clock(player.total)}`
    playhead.style.left = `${player.total > 0 ? (offset / player.total) * 100 : 0}%`
    const followRows = follow || player.isPlaying
    lists.network.setActive(lastAtOrBefore(times.network, now), followRows)
    lists.console.setActive(lastAtOrBefore(times.console, now), followRows)
    lists.errors.setActive(lastAtOrBefore(times.errors, now), followRows)
  }

  // the rest of a long replay streams in after playback can start
  grow = (page) => {
    player.append(page)
    showTotal()
    drawLanes()
    tick(false)
  }
  for (const page of later.splice(0)) grow(page)

  if (data.start_at !== null) seekTo(data.start_at)
  if (data.open_request) {
    const index = data.network.findIndex((n) => n.request_id === data.open_request)
    if (index >= 0) selectTab('network')
    void panel.openRequest(data.open_request)
  }
  tick(true)
  let wasPlaying = false
  setInterval(() => {
    if (player.isPlaying || wasPlaying) tick(false)
    wasPlaying = player.isPlaying
  }, 100)
  root.dataset.state = 'ready'
}

main().catch((err: unknown) => {
  console.error('the session page failed to start', err)
})
