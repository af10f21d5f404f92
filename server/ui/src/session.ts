// The session page: replay player, timeline, Network / Console / Errors lists (filtered,
// searchable, keyboard-operable) with the row of the current player time highlighted, the
// Context tab, and the request drawer of a picked row.
//
// The lists, their filters and the data lanes are drawn from the page's own data first; the
// replay downloads after (its pages stream in), then the player, the page and click lanes.
import '@rrweb/replay/dist/style.css'
import './session.css'
import { clock, el, localTime } from './format'
import { Player, loadEvents } from './player'
import { RequestPanel } from './request_panel'
import { Summaries } from './summaries'
import { drawAxis, drawLane, timeAt, type Mark } from './timeline'
import { clicksOf, dataMarks, pagesOf, replayMarks, type Page, type ReplayEvent } from './lanes'
import { consoleRow, errorRow, fitUrls, networkRow, type RowContext } from './rows'
import { consoleMatches, errorMatches, networkMatches, readFields, watchBar, type Fields } from './filters'
import { bindKeys, toggleFullscreen } from './keys'
import type { ErrorRow, NetworkRow, SessionData } from './types'
import { VirtualList, lastAtOrBefore } from './vlist'

const ROW_HEIGHT = 30
const byId = <T extends HTMLElement>(id: string): T => {
  const node = document.getElementById(id)
  if (!node) throw new Error(`#${id} is missing`)
  return node as T
}

function setupTabs(): (name: string) => void {
  const tabs = document.querySelectorAll<HTMLButtonElement>('[role=tab][data-tab]')
  const select = (name: string): void => {
    for (const tab of tabs) {
      const on = tab.dataset.tab === name
      tab.setAttribute('aria-selected', String(on))
      tab.tabIndex = on ? 0 : -1
    }
    for (const panel of document.querySelectorAll<HTMLElement>('[data-panel]')) {
      panel.hidden = panel.dataset.panel !== name
    }
    // a list that was hidden has no height yet: let it measure itself now
    window.dispatchEvent(new Event('resize'))
  }
  const list = [...tabs]
  for (const tab of list) {
    tab.addEventListener('click', () => select(tab.dataset.tab ?? 'network'))
    tab.addEventListener('keydown', (event) => { // the tablist pattern: ← → between tabs
      const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0
      if (!step) return
      event.preventDefault()
      event.stopPropagation()
      const next = list[(list.indexOf(tab) + step + list.length) % list.length]
      if (next) {
        select(next.dataset.tab ?? 'network')
        next.focus()
      }
    })
  }
  return select
}

async function main(): Promise<void> {
  const root = byId<HTMLElement>('session')
  const data = JSON.parse(byId('session-data').textContent ?? '{}') as SessionData
  const selectTab = setupTabs()
  const panel = new RequestPanel(byId('request-panel'))
  panel.onToggle = (open) => document.body.classList.toggle('drawer-open', open) // session.css
  const msg = byId<HTMLElement>('player-msg')

  // the player's clock until the replay is there: the session's span, position ``pending``
  const ctx: RowContext = { base: data.session.started_ms }
  let total = Math.max(0, data.session.last_ms - data.session.started_ms)
  let player: Player | null = null
  let pending = data.start_at ?? data.session.started_ms // epoch ms
  const nowMs = (): number => (player ? player.base + player.current() : pending)
  const seekTo = (ms: number): void => {
    pending = ms
    player?.seek(ms - ctx.base)
    tick(true)
  }

  // the lists, drawn now from the page's data
  const openRequest = (id: string, focus = false): void => void panel.openRequest(id, focus)
  const pickError = (e: ErrorRow, focus: boolean): void => {
    if (e.source !== 'frontend' && e.request_id) openRequest(e.request_id, focus)
    else panel.showError(e, focus, openRequest)
  }
  const shown = { network: data.network, console: data.console, errors: data.errors }
  const times = { network: [] as number[], console: [] as number[], errors: [] as number[] }
  const lists = {
    network: new VirtualList(byId('list-network'), data.network, ROW_HEIGHT, (n) => networkRow(n, ctx),
      (n, _i, byKey) => {
        seekTo(n.start_ms)
        if (n.request_id) openRequest(n.request_id, byKey)
        else panel.close()
      }, 'No network requests recorded.'),
    console: new VirtualList(byId('list-console'), data.console, ROW_HEIGHT, (c) => consoleRow(c, ctx),
      (c) => seekTo(c.ts_ms), 'No console messages recorded.'),
    errors: new VirtualList(byId('list-errors'), data.errors, ROW_HEIGHT, (e) => errorRow(e, ctx),
      (e, _i, byKey) => {
        seekTo(e.ts_ms)
        pickError(e, byKey)
      }, 'No errors in this session.'),
  }
  const retime = (): void => {
    times.network = shown.network.map((n) => n.start_ms)
    times.console = shown.console.map((c) => c.ts_ms)
    times.errors = shown.errors.map((e) => e.ts_ms)
  }
  retime()

  // filters
  const errorRequests = new Set(data.errors.filter((e) => e.source !== 'frontend').map((e) => e.request_id))
  const backendErrors = (n: NetworkRow): boolean =>
    (n.backend?.errors ?? 0) > 0 || (n.request_id !== null && errorRequests.has(n.request_id))
  const bars = {
    network: byId<HTMLFormElement>('filter-network'),
    console: byId<HTMLFormElement>('filter-console'),
    errors: byId<HTMLFormElement>('filter-errors'),
  }
  const methods = byId<HTMLSelectElement>('filter-method')
  for (const m of [...new Set(data.network.map((n) => n.method.toUpperCase()))].filter(Boolean).sort()) {
    methods.append(new Option(m, m))
  }
  const filtered = (f: Fields): boolean => Object.values(f).some((v) => v !== '' && v !== false)
  const show = <T>(list: VirtualList<T>, rows: readonly T[], bar: HTMLElement, f: Fields,
    all: number, noun: string): void => {
    list.setItems(rows)
    list.setEmpty(filtered(f) ? `No ${noun} matches these filters.` : `No ${noun}s recorded.`)
    const count = bar.querySelector('.shown-count')
    if (count) count.textContent = filtered(f) ? `${rows.length} of ${all}` : ''
    retime()
    tick(false)
  }
  let summaries: Summaries | null = null
  const filterNetwork = (f: Fields): void => {
    if (f.backend === true) summaries?.want(data.network) // a large session: every summary
    shown.network = data.network.filter((n) => networkMatches(n, f, backendErrors))
    show(lists.network, shown.network, bars.network, f, data.network.length, 'request')
  }
  watchBar(bars.network, filterNetwork)
  watchBar(bars.console, (f) => {
    shown.console = data.console.filter((c) => consoleMatches(c, f))
    show(lists.console, shown.console, bars.console, f, data.console.length, 'console message')
  })
  watchBar(bars.errors, (f) => {
    shown.errors = data.errors.filter((e) => errorMatches(e, f))
    show(lists.errors, shown.errors, bars.errors, f, data.errors.length, 'error')
  })
  summaries = new Summaries(data.network, () => {
    const f = readFields(bars.network)
    if (f.backend === true) filterNetwork(f)
    else lists.network.refresh()
  })
  const networkBox = byId<HTMLElement>('list-network')
  lists.network.onRender = (first, last) => {
    summaries?.want(shown.network.slice(first, last))
    fitUrls(networkBox)
  }

  // timeline
  const lane = (name: string): HTMLElement | null =>
    root.querySelector<HTMLElement>(`[data-lane=${name}] .lane-track`)
  const marks: Record<string, Mark[]> = dataMarks(data)
  const axis = byId<HTMLElement>('axis')
  const drawLanes = (): void => {
    for (const [name, list] of Object.entries(marks)) {
      const track = lane(name)
      if (track) drawLane(track, list, ctx.base, total)
    }
    drawAxis(axis, total, clock)
  }
  const timeline = byId<HTMLElement>('timeline')
  new ResizeObserver(() => drawLanes()).observe(timeline)
  const seek = byId<HTMLInputElement>('seek')
  timeline.addEventListener('click', (event) => {
    if (event.target === seek) return // the seek bar moves the player through its input event
    const target = event.target as Element
    const track = target.closest<HTMLElement>('.lane-track, .axis-track') ?? lane('network')
    if (track) seekTo(timeAt(event, track, ctx.base, total))
  })

  // controls
  const play = byId<HTMLButtonElement>('play')
  const speed = byId<HTMLSelectElement>('speed')
  const skip = byId<HTMLInputElement>('skip')
  const clockLabel = byId<HTMLElement>('clock')
  const playhead = byId<HTMLElement>('playhead')
  const errorPos = byId<HTMLElement>('error-pos')
  const durationLabel = document.getElementById('session-duration')
  const showTotal = (): void => {
    seek.max = String(Math.round(total))
    // one duration: the header says what the player's clock says (the same span, see Player)
    if (durationLabel) durationLabel.textContent = clock(total)
  }
  showTotal()
  const errorTimes = data.errors.map((e) => e.ts_ms)
  const goToError = (step: 1 | -1): void => {
    const now = nowMs()
    const index = step > 0
      ? errorTimes.findIndex((t) => t > now + 1)
      : lastAtOrBefore(errorTimes, now - 1)
    const e = index >= 0 ? data.errors[index] : undefined
    if (!e) {
      errorPos.textContent = step > 0 ? 'No later error' : 'No earlier error'
      return
    }
    seekTo(e.ts_ms)
    errorPos.textContent = `Error ${index + 1} of ${data.errors.length}: ${e.type}`
  }
  const toggle = (): void => {
    player?.toggle()
    tick(false)
  }
  play.addEventListener('click', toggle)
  seek.addEventListener('input', () => seekTo(ctx.base + Number(seek.value)))
  byId('next-error').addEventListener('click', () => goToError(1))
  byId('prev-error').addEventListener('click', () => goToError(-1))
  const playerCol = byId<HTMLElement>('player-col')
  byId('fullscreen').addEventListener('click', () => toggleFullscreen(playerCol))
  const configure = (): void => player?.configure(Number(speed.value), skip.checked)
  speed.addEventListener('change', configure)
  skip.addEventListener('change', configure)
  bindKeys({
    toggle,
    seekBy: (ms) => seekTo(nowMs() + ms),
    nextError: () => goToError(1),
    previousError: () => goToError(-1),
    fullscreen: () => toggleFullscreen(playerCol),
  })
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && panel.isOpen) panel.close()
  })
  document.getElementById('ctx-track')?.addEventListener('click', (event) => {
    const at = (event.target as Element).closest<HTMLElement>('[data-seek-ms]')?.dataset.seekMs
    if (at) seekTo(Number(at))
  })

  function tick(follow: boolean): void {
    const now = nowMs()
    const offset = now - ctx.base
    root.dataset.currentMs = String(Math.round(now))
    root.dataset.offsetMs = String(Math.round(offset))
    root.dataset.playing = String(player?.isPlaying ?? false)
    play.textContent = player?.isPlaying ? '❚❚' : '▶'
    play.setAttribute('aria-label', player?.isPlaying ? 'Pause' : 'Play')
    if (document.activeElement !== seek) seek.value = String(Math.round(offset))
    clockLabel.textContent = `${clock(offset)} / ${clock(total)}`
    playhead.style.left = `${total > 0 ? Math.min(1, Math.max(0, offset / total)) * 100 : 0}%`
    const followRows = follow || Boolean(player?.isPlaying)
    lists.network.setActive(lastAtOrBefore(times.network, now), followRows)
    lists.console.setActive(lastAtOrBefore(times.console, now), followRows)
    lists.errors.setActive(lastAtOrBefore(times.errors, now), followRows)
  }

  // where the link points: a frontend error at ``t`` opens the Errors tab with that error
  // (bug 10); a request opens in the drawer
  const atError = data.start_at === null ? undefined : data.errors.find((e) =>
    e.source === 'frontend' && e.ts_ms === data.start_at &&
    (!data.open_request || e.request_id === data.open_request))
  if (atError) {
    selectTab('errors')
    panel.showError(atError, false, openRequest)
  } else if (data.open_request) {
    if (data.network.some((n) => n.request_id === data.open_request)) selectTab('network')
    openRequest(data.open_request)
  }
  drawLanes()
  tick(true)
  root.dataset.lists = 'ready'

  // the replay: its first page, then the player; the rest streams in while it plays
  let events: ReplayEvent[] = []
  const later: ReplayEvent[][] = []
  const pages: Page[] = []
  const clicks: ReturnType<typeof clicksOf> = []
  const pageList = document.getElementById('pages-visited')
  const addEvents = (more: readonly ReplayEvent[]): void => {
    for (const p of pagesOf(more)) if (pages[pages.length - 1]?.url !== p.url) pages.push(p)
    clicks.push(...clicksOf(more))
    Object.assign(marks, replayMarks(pages, clicks))
    if (pageList) {
      pageList.replaceChildren(...pages.map((p) => {
        const item = el('li', '')
        const at = el('button', 'seek-to mono small-btn', clock(p.ms - ctx.base))
        at.type = 'button'
        at.title = `play from ${localTime(p.ms)}`
        at.addEventListener('click', () => seekTo(p.ms))
        item.append(at, ' ', el('span', 'url mono', p.url))
        return item
      }))
      if (!pages.length) pageList.replaceChildren(el('li', 'muted', 'No page load in the replay.'))
    }
  }
  let grow = (page: ReplayEvent[]): void => void later.push(page)
  try {
    events = await loadEvents(data.session.secure_id, (page) => grow(page))
  } catch (err) {
    console.warn('could not load the replay', err)
  }
  addEvents(events)
  const at = pending
  player = new Player(byId('player'), events, {
    start: data.session.started_ms,
    end: data.session.last_ms,
  })
  if (player.hasReplay) msg.remove()
  else msg.textContent = 'No replay was recorded for this session.'
  ctx.base = player.base
  total = player.total
  player.seek(at - ctx.base)
  showTotal()
  for (const list of Object.values(lists)) list.refresh()
  play.disabled = seek.disabled = !player.hasReplay

  grow = (page) => {
    if (!player) return
    player.append(page)
    addEvents(page)
    total = player.total
    showTotal()
    drawLanes()
    tick(false)
  }
  for (const page of later.splice(0)) grow(page)
  drawLanes()
  tick(true)
  let wasPlaying = false
  setInterval(() => {
    if (player?.isPlaying || wasPlaying) tick(false)
    wasPlaying = player?.isPlaying ?? false
  }, 100)
  root.dataset.state = 'ready'
}

main().catch((err: unknown) => {
  console.error('the session page failed to start', err)
})
