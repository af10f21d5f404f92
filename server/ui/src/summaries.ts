// Backend summaries of a large session's network rows, fetched for the rows in view
// (a few hundred ids at a time) instead of computed for thousands of requests up front.
import { getJSON } from './api'
import type { Backend, NetworkRow } from './types'

const BATCH = 100

export class Summaries {
  private readonly pending = new Set<string>()
  private timer = 0

  constructor(
    private readonly rows: readonly NetworkRow[],
    private readonly changed: () => void,
  ) {}

  /** Asks for the summaries of ``rows`` (the rows in view, or all) that have none yet. */
  want(rows: readonly NetworkRow[]): void {
    for (const row of rows) {
      if (row.backend === null && row.request_id) this.pending.add(row.request_id)
    }
    if (this.pending.size && !this.timer) this.timer = window.setTimeout(() => void this.load(), 60)
  }

  /** True while some rows still wait for their summary. */
  get busy(): boolean {
    return this.pending.size > 0
  }

  private async load(): Promise<void> {
    this.timer = 0
    const ids = [...this.pending].slice(0, BATCH)
    const query = ids.map(encodeURIComponent).join(',')
    let answer: Record<string, Backend> = {}
    try {
      answer = await getJSON<Record<string, Backend>>(`/ui-data/backend-summaries?ids=${query}`)
    } catch (err) {
      console.warn('could not load backend summaries', err)
    }
    for (const id of ids) this.pending.delete(id)
    const none: Backend = { spans: 0, logs: 0, errors: 0, worst_level: null }
    const asked = new Set(ids)
    for (const row of this.rows) {
      if (row.backend === null && row.request_id && asked.has(row.request_id)) {
        row.backend = answer[row.request_id] ?? none
      }
    }
    this.changed()
    if (this.pending.size) this.timer = window.setTimeout(() => void this.load(), 0)
  }
}
