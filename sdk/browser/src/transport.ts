/**
 * Serial upload queue of docs/protocol.md. A job is a finished request body (a batch
 * with its seq, or a session start); it is resent unchanged until the server takes it
 * (200) or refuses it for good (4xx other than 429), so retries are idempotent.
 * Backoff doubles from 1 s to 30 s, or follows `Retry-After`.
 */
import type { Log } from './types'

export interface Job {
  path: string
  body: string
  tries: number
  gz?: ArrayBuffer
}

export type Schedule = (fn: () => void, ms: number) => unknown
export type Beacon = (url: string, body: string) => boolean

/** Keepalive/beacon bodies share a 64 KiB in-flight quota per page. */
export const BEACON_BUDGET = 60000

export const backoff = (tries: number): number => Math.min(30000, 500 * 2 ** tries)

async function gzip(s: string): Promise<ArrayBuffer> {
  const stream = new Blob([s]).stream().pipeThrough(new CompressionStream('gzip'))
  return new Response(stream).arrayBuffer()
}

export class Transport {
  queue: Job[] = []
  private busy = false
  private waiting = false
  private gen = 0

  constructor(
    private base: string,
    private post: typeof fetch,
    private log: Log,
    private schedule: Schedule = (fn, ms) => setTimeout(fn, ms),
    private compress = typeof CompressionStream === 'function',
  ) {}

  push(path: string, body: string): void {
    this.queue.push({ path, body, tries: 0 })
    this.pump()
  }

  /** True when nothing is waiting for the server. */
  idle(): boolean {
    return this.queue.length === 0
  }

  pump(): void {
    if (this.busy || this.waiting || this.queue.length === 0) return
    this.busy = true
    void this.sendHead()
  }

  /** Sends at once what is waiting for a backoff timer (e.g. the page was hidden). */
  retryNow(): void {
    this.waiting = false
    this.pump()
  }

  private async sendHead(): Promise<void> {
    const job = this.queue[0]!
    let done = false
    let after = 0
    try {
      const res = await this.request(job)
      done = res.ok || (res.status >= 400 && res.status < 500 && res.status !== 429)
      this.log(`${job.path} answered ${res.status}`, res.ok ? '' : done ? 'dropped' : 'will retry')
      after = (Number(res.headers.get('retry-after')) || 0) * 1000
    } catch (e) {
      this.log(`${job.path} failed`, e)
    }
    this.busy = false
    if (done) {
      if (this.queue[0] === job) this.queue.shift()
      this.pump()
      return
    }
    job.tries++
    this.waiting = true
    const gen = ++this.gen
    this.schedule(
      () => {
        if (this.waiting && gen === this.gen) this.retryNow()
      },
      Math.min(60000, Math.max(after, backoff(job.tries))),
    )
  }

  private async request(job: Job): Promise<Response> {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    let body: BodyInit = job.body
    if (this.compress) {
      try {
        job.gz ??= await gzip(job.body)
        body = job.gz
        headers['content-encoding'] = 'gzip'
      } catch {
        this.compress = false
      }
    }
    return this.post(this.base + job.path, {
      method: 'POST',
      body,
      headers,
      credentials: 'omit',
      mode: 'cors',
    })
  }

  /**
   * Page is going away: hand what fits in the keepalive budget to `beacon`, oldest
   * first, as uncompressed text/plain (no CORS preflight). Jobs stay queued: the
   * caller persists them and a later page load resends them (duplicates are harmless).
   */
  beacon(send: Beacon): void {
    let budget = BEACON_BUDGET
    for (const job of this.queue) {
      const size = new Blob([job.body]).size
      if (size > budget) continue
      try {
        if (send(this.base + job.path, job.body)) budget -= size
      } catch (e) {
        this.log('beacon failed', e)
      }
    }
  }
}
