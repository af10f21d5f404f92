import assert from 'node:assert/strict'
import { test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { backoff, BEACON_BUDGET, Transport } from '../src/transport'

interface Call {
  url: string
  body: Buffer
  headers: Record<string, string>
}

/** A fake server answering with the given statuses in turn; records each request. */
function server(statuses: (number | 'down')[], retryAfter?: string) {
  const calls: Call[] = []
  const post = (async (url: string, init: RequestInit) => {
    const raw = init.body
    const body = typeof raw === 'string' ? Buffer.from(raw) : Buffer.from(raw as ArrayBuffer)
    calls.push({ url, body, headers: init.headers as Record<string, string> })
    const s = statuses.shift() ?? 200
    if (s === 'down') throw new TypeError('Failed to fetch')
    return new Response('{}', { status: s, headers: retryAfter ? { 'retry-after': retryAfter } : {} })
  }) as unknown as typeof fetch
  return { calls, post }
}

/** Runs scheduled retries by hand and records their delays. */
function clock() {
  const delays: number[] = []
  const due: (() => void)[] = []
  return {
    delays,
    schedule: (fn: () => void, ms: number) => {
      delays.push(ms)
      due.push(fn)
    },
    runNext: () => due.shift()?.(),
  }
}

const settle = () => new Promise((r) => setTimeout(r, 0))
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await settle()
  assert.ok(cond(), 'condition not reached')
}

test('backoff doubles from 1 s up to 30 s', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 20].map(backoff), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000])
})

test('a failed batch is retried with the identical body, then the queue moves on', async () => {
  const s = server(['down', 503, 200, 200])
  const c = clock()
  const t = new Transport('http://b', s.post, () => undefined, c.schedule, false)
  t.push('/ingest/v1/batch', '{"seq":0}')
  t.push('/ingest/v1/batch', '{"seq":1}')
  await until(() => c.delays.length === 1)
  c.runNext()
  await until(() => c.delays.length === 2)
  assert.deepEqual(c.delays, [1000, 2000])
  c.runNext()
  await until(() => t.idle())
  assert.deepEqual(
    s.calls.map((x) => x.body.toString()),
    ['{"seq":0}', '{"seq":0}', '{"seq":0}', '{"seq":1}'],
  )
  assert.equal(s.calls[0]!.url, 'http://b/ingest/v1/batch')
})

test('429 follows Retry-After; other 4xx are dropped without retry', async () => {
  const s = server([429, 200, 400, 404, 200], '7')
  const c = clock()
  const t = new Transport('http://b', s.post, () => undefined, c.schedule, false)
  t.push('/a', 'one')
  await until(() => c.delays.length === 1)
  assert.equal(c.delays[0], 7000)
  c.runNext()
  t.push('/a', 'two')
  t.push('/a', 'three')
  t.push('/a', 'four')
  await until(() => t.idle())
  assert.deepEqual(s.calls.map((x) => x.body.toString()), ['one', 'one', 'two', 'three', 'four'])
  assert.equal(c.delays.length, 1)
})

test('bodies are gzipped with CompressionStream, once, and retries resend the same bytes', async () => {
  const s = server(['down', 200])
  const c = clock()
  const t = new Transport('http://b', s.post, () => undefined, c.schedule)
  const json = JSON.stringify({ v: 1, events: Array.from({ length: 50 }, (_, i) => ({ i })) })
  t.push('/ingest/v1/batch', json)
  await until(() => c.delays.length === 1)
  c.runNext()
  await until(() => t.idle())
  assert.equal(s.calls.length, 2)
  for (const call of s.calls) {
    assert.equal(call.headers['content-encoding'], 'gzip')
    assert.equal(call.headers['content-type'], 'application/json')
    assert.equal(gunzipSync(call.body).toString(), json)
  }
  assert.ok(s.calls[0]!.body.equals(s.calls[1]!.body))
})

test('beacon sends what fits in the keepalive budget, oldest first, and keeps the jobs', () => {
  const t = new Transport('http://b', server([]).post, () => undefined, () => undefined, false)
  t.queue.push({ path: '/x', body: 'a'.repeat(BEACON_BUDGET - 100), tries: 0 })
  t.queue.push({ path: '/x', body: 'b'.repeat(200), tries: 0 })
  t.queue.push({ path: '/x', body: 'c'.repeat(50), tries: 0 })
  const sent: string[] = []
  t.beacon((url, body) => {
    assert.equal(url, 'http://b/x')
    sent.push(body[0]!)
    return true
  })
  assert.deepEqual(sent, ['a', 'c'])
  assert.equal(t.queue.length, 3)
})
