/**
 * Items waiting for the next batch, each kept as its JSON text (serialised once).
 * Memory is bounded: per-kind item caps and a byte cap; over the byte cap the oldest
 * replay events go first, then console, network, track and errors. Drops are counted
 * and reported in the next batch's `dropped`.
 */

export type Kind = 'events' | 'network' | 'console' | 'errors' | 'track'

const KINDS: Kind[] = ['events', 'console', 'network', 'track', 'errors']
const CAPS: Record<Kind, number> = {
  events: 20000,
  network: 1000,
  console: 1000,
  errors: 500,
  track: 1000,
}

export interface Dropped {
  events: number
  network: number
  console: number
}

export interface Taken {
  lists: Record<Kind, string[]>
  identify: string | null
  dropped: Dropped
}

export class Buffer {
  lists: Record<Kind, string[]> = { events: [], network: [], console: [], errors: [], track: [] }
  identify: string | null = null
  dropped: Dropped = { events: 0, network: 0, console: 0 }
  bytes = 0
  /** Set when replay events were dropped: the replay needs a new full snapshot. */
  lostEvents = false

  constructor(public maxBytes = 8 * 1024 * 1024) {}

  push(kind: Kind, json: string): void {
    const list = this.lists[kind]
    list.push(json)
    this.bytes += json.length
    if (list.length > CAPS[kind]) this.drop(kind)
    while (this.bytes > this.maxBytes) {
      const k = KINDS.find((x) => this.lists[x].length > 0)
      if (!k) break
      this.drop(k)
    }
  }

  private drop(kind: Kind): void {
    this.bytes -= this.lists[kind].shift()!.length
    if (kind === 'events') this.lostEvents = true
    if (kind in this.dropped) this.dropped[kind as keyof Dropped]++
  }

  isEmpty(): boolean {
    return (
      this.bytes === 0 &&
      this.identify === null &&
      !this.dropped.events &&
      !this.dropped.network &&
      !this.dropped.console
    )
  }

  /**
   * Removes up to about `maxBytes` of items, oldest first, errors and other small
   * kinds before replay events (at least one item when anything is waiting).
   */
  take(maxBytes: number): Taken {
    const lists = { events: [], network: [], console: [], errors: [], track: [] } as Record<
      Kind,
      string[]
    >
    let size = 0
    for (const k of ['errors', 'track', 'console', 'network', 'events'] as Kind[]) {
      const src = this.lists[k]
      let n = 0
      while (n < src.length && (size === 0 || size + src[n]!.length <= maxBytes)) {
        size += src[n]!.length
        n++
      }
      lists[k] = src.splice(0, n)
    }
    this.bytes -= size
    const taken: Taken = { lists, identify: this.identify, dropped: this.dropped }
    this.identify = null
    this.dropped = { events: 0, network: 0, console: 0 }
    return taken
  }
}

/** The batch body of docs/protocol.md, assembled from the items' JSON texts. */
export function batchJson(
  head: { project_id: string; session_secure_id: string; seq: number },
  t: Taken,
): string {
  const list = (k: Kind): string => `"${k}":[${t.lists[k].join(',')}]`
  return (
    `{"v":1,"project_id":${JSON.stringify(head.project_id)},` +
    `"session_secure_id":${JSON.stringify(head.session_secure_id)},"seq":${head.seq},` +
    `${list('events')},${list('network')},${list('console')},${list('errors')},${list('track')},` +
    `"identify":${t.identify ?? 'null'},"dropped":${JSON.stringify(t.dropped)}}`
  )
}
