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

export class Player {
  readonly base: number
  total: number
  private readonly replayer: Replayer | null
  private offset = 0
  private playing = false

  constructor(
    private readonly frame: HTMLElement,
    events: ReplayPage['events'],
    fallback: { start: number; end: number },
  ) {
    if (!playable(events)) {
      this.replayer = null
      this.base = fallback.start
      this.total = Math.max(0, fallback.end - fallback.start)
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
    const meta = this.replayer.getMetaData()
    this.base = meta.startTime
    this.total = meta.totalTime
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
      this.offset = Math.min(this.total, Math.max(0, this.replayer.getCurrentTime()))
    }
    return this.offset
  }

  seek(offset: number): void {
    this.offset = Math.min(this.total, Math.max(0, offset))
    if (!this.replayer) return
    if (this.playing) this.replayer.play(this.offset)
    else this.replayer.pause(this.offset)
  }

  toggle(): void {
    if (!this.replayer) return
    if (this.playing) {
      this.offset = this.current()
      this.replayer.pause(this.offset)
      this.playing = false
    } else {
      if (this.offset >= this.total) this.offset = 0
      this.replayer.play(this.offset)
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
