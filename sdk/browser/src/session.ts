/**
 * Session lifecycle: one session per tab, kept in sessionStorage so that reloads and
 * same-tab navigations resume it. Resume when the last activity was under 15 minutes
 * ago; start anew after 4 hours. A duplicated tab (whose sessionStorage is a copy of a
 * live tab's) is recognised by the `open` mark, which a live page keeps set and clears
 * on `pagehide`: a page that finds it set was copied from a page still running.
 */
import { isId, newSessionId, randomAlnum } from './ids'

export const IDLE_MS = 15 * 60 * 1000
export const MAX_MS = 4 * 60 * 60 * 1000

export interface KV {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

export interface SessionState {
  /** sessionSecureId */
  id: string
  /** start, epoch ms */
  start: number
  /** last user activity, epoch ms */
  last: number
  /** next batch sequence number */
  seq: number
  /** set while a page of this tab is alive */
  open: boolean
  tab: string
}

export type Origin = 'new' | 'resumed' | 'idle' | 'expired' | 'duplicate'

export const fresh = (now: number): SessionState => ({
  id: newSessionId(),
  start: now,
  last: now,
  seq: 0,
  open: true,
  tab: randomAlnum(8),
})

export const expired = (s: SessionState, now: number): Origin | null =>
  now - s.last >= IDLE_MS ? 'idle' : now - s.start >= MAX_MS ? 'expired' : null

function parse(raw: string | null): SessionState | null {
  try {
    const s = raw ? (JSON.parse(raw) as SessionState) : null
    return s && isId(s.id) && typeof s.seq === 'number' ? s : null
  } catch {
    return null
  }
}

/** Storage-backed session of one tab. Storage failures leave it in memory only. */
export class Session {
  state: SessionState
  origin: Origin
  private saved = 0

  constructor(
    private store: KV | null,
    private key: string,
    now: number,
  ) {
    const old = parse(this.get())
    let origin: Origin = 'new'
    if (old) origin = old.open ? 'duplicate' : (expired(old, now) ?? 'resumed')
    this.origin = origin
    this.state = origin === 'resumed' ? { ...old!, open: true, last: now } : fresh(now)
    this.save()
  }

  get id(): string {
    return this.state.id
  }

  /** Next batch sequence number (stored at once, so a reload continues after it). */
  nextSeq(): number {
    const n = this.state.seq++
    this.save()
    return n
  }

  /** Records user activity; writes storage at most every 5 s. */
  touch(now: number): void {
    this.state.last = now
    if (now - this.saved > 5000) this.save()
  }

  /** Replaces the state with a new session (idle or too old while the page ran). */
  renew(now: number): void {
    this.state = { ...fresh(now), tab: this.state.tab }
    this.save()
  }

  /** `pagehide` clears the live mark; `pageshow` from the back-forward cache sets it. */
  setOpen(open: boolean): void {
    this.state.open = open
    this.save()
  }

  private get(): string | null {
    try {
      return this.store ? this.store.getItem(this.key) : null
    } catch {
      return null
    }
  }

  save(): void {
    this.saved = this.state.last
    try {
      this.store?.setItem(this.key, JSON.stringify(this.state))
    } catch {
      // storage full or denied: keep going in memory
    }
  }
}
