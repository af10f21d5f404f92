// The replay player: rrweb's Replayer plus our controls (play/pause, seek, speed, skip
// inactivity). Times outside are epoch ms; the Replayer counts ms from its first event.
import { Replayer } from '@rrweb/replay'
import { getJSON } from './api'
import { inertFrames } from './inert'

type ReplayPage = { events: Array<{ type: number; timestamp: number }>; next_seq: number | null }
const FULL_SNAPSHOT = 2

type Events = ReplayPage['events']
const byTime = (a: { timestamp: number }, b: { timestamp: number }): number =>
  a.timestamp - b.timestamp

/**
 * A session's rrweb events, streamed: resolves with the first events that can start a
 * replay (a full snapshot and one more event) or with everything when none can, and passes
 * every later page to `more` as it arrives. Pages are capped in bytes by the server, so a
 * long session starts playing after its first page instead of after its last.
 */
export async function loadEvents(
  sessionId: string,
  more: (events: Events) => void = () => {},
): Promise<Events> {
  const path = (after: number): string =>
    `/api/v1/sessions/${encodeURIComponent(sessionId)}/replay?after_seq=${after}&limit=200`
  const first: Events = []
  let after = -1
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await getJSON<ReplayPage>(path(after))
    first.push(...page.events)
    if (page.next_seq === null) return first.sort(byTime)
    after = page.next_seq
    if (playable(first)) break
  }
  void (async () => {
    for (let pages = 0; pages < 10_000 && after !== null; pages++) {
      const page: ReplayPage = await getJSON<ReplayPage>(path(after))
      more(page.events.sort(byTime))
      after = page.next_seq ?? (null as unknown as number)
      if (page.next_seq === null) break
    }
  })().catch((err: unknown) => console.warn('could not load the rest of the replay', err))
  return first.sort(byTime)
}

const playable = (events: Events): boolean =>
  events.length >= 2 && events.some((e) => e.type === FULL_SNAPSHOT)

/**
 * The player's clock runs over the session's span: from the session's start to its last
 * recorded moment (the server's ``started_ms`` and ``last_ms``, the same span the page
 * header calls the session's duration), widened if the replay's events reach outside it.
 * The replay starts ``lead`` ms into that span: before it, the first snapshot is shown;
 * after its last event (network requests can end later), the last frame stays.
 */
export class Player {
  readonly base: number
  total: number
  private readonly replayer: Replayer | null
  private readonly lead: number
  private offset = 0
  private playing = false

  constructor(
    private readonly frame: HTMLElement,
    events: ReplayPage['events'],
    span: { start: number; end: number },
  ) {
    if (!playable(events)) {
      this.replayer = null
      this.base = span.start
      this.lead = 0
      this.total = Math.max(0, span.end - span.start)
      return
    }
    this.replayer = new Replayer(inertFrames(events) as never, {
      root: frame,
      skipInactive: true,
      showWarning: false,
      mouseTail: false,
      triggerFocus: false,
      speed: 1,
    })
    this.replayer.iframe.title = 'Session replay' // frames need a name (WCAG 4.1.2)
    const meta = this.replayer.getMetaData()
    this.base = Math.min(span.start, meta.startTime)
    this.lead = meta.startTime - this.base
    this.total = Math.max(span.end, meta.endTime) - this.base
    this.replayer.on('resize', () => this.fit())
    this.replayer.on('finish', () => {
      this.playing = false
      this.offset = this.total
    })
    new ResizeObserver(() => this.fit()).observe(frame)
    this.replayer.pause(0)
    this.fit()
  }

  /** Adds events that arrived later (the next pages of a long session). */
  append(events: Events): void {
    if (!this.replayer) return
    for (const event of inertFrames(events)) this.replayer.addEvent(event as never)
    const meta = this.replayer.getMetaData()
    this.total = Math.max(this.total, meta.endTime - this.base)
  }

  get hasReplay(): boolean {
    return this.replayer !== null
  }

  get isPlaying(): boolean {
    return this.playing
  }

  /** Current position, ms from ``base``. */
  current(): number {
    if (this.replayer && this.playing) {
      const at = this.replayer.getCurrentTime() + this.lead
      this.offset = Math.min(this.total, Math.max(0, at))
    }
    return this.offset
  }

  /** The replayer's own time (ms from the replay's first event) at our ``offset``. */
  private replayTime(offset: number): number {
    return Math.max(0, offset - this.lead)
  }

  seek(offset: number): void {
    this.offset = Math.min(this.total, Math.max(0, offset))
    if (!this.replayer) return
    if (this.playing) this.replayer.play(this.replayTime(this.offset))
    else this.replayer.pause(this.replayTime(this.offset))
  }

  toggle(): void {
    if (!this.replayer) return
    if (this.playing) {
      this.offset = this.current()
      this.replayer.pause(this.replayTime(this.offset))
      this.playing = false
    } else {
      if (this.offset >= this.total) this.offset = 0
      this.replayer.play(this.replayTime(this.offset))
      this.playing = true
    }
  }

  configure(speed: number, skipInactive: boolean): void {
    this.replayer?.setConfig({ speed, skipInactive })
  }

  /** Scales the recorded viewport to fit the frame. */
  private fit(): void {
    const wrapper = this.frame.querySelector<HTMLElement>('.replayer-wrapper')
    const iframe = wrapper?.querySelector('iframe')
    if (!wrapper || !iframe) return
    const width = Number(iframe.width) || iframe.offsetWidth
    const height = Number(iframe.height) || iframe.offsetHeight
    if (!width || !height) return
    const scale = Math.min(this.frame.clientWidth / width, this.frame.clientHeight / height, 1)
    wrapper.style.transform = `scale(${scale})`
    wrapper.style.left = `${(this.frame.clientWidth - width * scale) / 2}px`
    wrapper.style.top = `${(this.frame.clientHeight - height * scale) / 2}px`
  }
}
