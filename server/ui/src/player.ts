// The replay player: rrweb's Replayer plus our controls (play/pause, seek, speed, skip
// inactivity). Times outside are epoch ms; the Replayer counts ms from its first event.
import { Replayer } from '@rrweb/replay'
import { getJSON } from './api'
import { inertFrames } from './inert'

type ReplayPage = { events: Array<{ type: number; timestamp: number }>; next_seq: number | null }
const FULL_SNAPSHOT = 2

/** Every rrweb event of a session, page by page. */
export async function loadEvents(sessionId: string): Promise<ReplayPage['events']> {
  const events: ReplayPage['events'] = []
  let after = -1
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await getJSON<ReplayPage>(
      `/api/v1/sessions/${encodeURIComponent(sessionId)}/replay?after_seq=${after}&limit=200`,
    )
    events.push(...page.events)
    if (page.next_seq === null) break
    after = page.next_seq
  }
  events.sort((a, b) => a.timestamp - b.timestamp)
  return events
}

export class Player {
  readonly base: number
  readonly total: number
  private readonly replayer: Replayer | null
  private offset = 0
  private playing = false

  constructor(
    private readonly frame: HTMLElement,
    events: ReplayPage['events'],
    fallback: { start: number; end: number },
  ) {
    const playable = events.length >= 2 && events.some((e) => e.type === FULL_SNAPSHOT)
    if (!playable) {
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
