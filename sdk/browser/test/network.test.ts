import assert from 'node:assert/strict'
import { beforeEach, test } from 'node:test'
import { type NetConfig, type NetHooks, patchFetch } from '../src/network'
import { matches, type Page } from '../src/origins'
import { REDACTED } from '../src/redact'
import type { NetworkEntry } from '../src/types'

const PAGE = 'http://app.shop.test:8000/page'
;(globalThis as unknown as { location: URL }).location = new URL(PAGE)

// Resource timing as a browser would report it, for every URL; a URL with "notao" plays a
// cross-origin response without Timing-Allow-Origin (the detailed marks read 0).
;(performance as unknown as { getEntriesByName: (n: string) => unknown[] }).getEntriesByName = (name: string) => [
  name.includes('notao')
    ? {
        name,
        startTime: performance.now() + 1,
        domainLookupStart: 0,
        domainLookupEnd: 0,
        connectStart: 0,
        connectEnd: 0,
        secureConnectionStart: 0,
        requestStart: 0,
        responseStart: 0,
        responseEnd: 20,
      }
    : {
        name,
        startTime: performance.now() + 1,
        domainLookupStart: 1,
        domainLookupEnd: 3,
        connectStart: 3,
        connectEnd: 7,
        secureConnectionStart: 0,
        requestStart: 8,
        responseStart: 18,
        responseEnd: 20,
      },
]

interface Seen {
  args: unknown[]
  self: unknown
}

const SID = 'S'.repeat(28)
let seen: Seen[]
let entries: NetworkEntry[]
let reply: () => Promise<Response>

function setup(cfg: Partial<NetConfig> = {}, extra: Partial<NetHooks> = {}) {
  seen = []
  entries = []
  reply = async () => new Response('{"ok":true}', { headers: { 'content-type': 'application/json' } })
  const win = {
    fetch(this: unknown, ...args: unknown[]) {
      seen.push({ args, self: this })
      return reply()
    },
  }
  const page: Page = { origin: 'http://app.shop.test:8000', hostname: 'app.shop.test', site: () => 'shop.test' }
  const hooks: NetHooks = {
    cfg: {
      record: true,
      bodies: false,
      limit: 65536,
      headersToRedact: new Set(),
      bodyKeys: new Set(),
      blocklist: [],
      traceparent: true,
      ...cfg,
    },
    active: () => true,
    session: () => SID,
    own: (u) => u.href.startsWith('http://backlight.test/ingest/'),
    traced: (raw, u) => matches(true, raw, u, page),
    push: (e) => entries.push(e),
    log: () => undefined,
    ...extra,
  }
  patchFetch(win as unknown as Window & typeof globalThis, hooks)
  return win.fetch as unknown as typeof fetch
}

async function recorded(n = 1): Promise<NetworkEntry[]> {
  for (let i = 0; i < 200 && entries.length < n; i++) await new Promise((r) => setTimeout(r, 1))
  assert.equal(entries.length, n)
  return entries
}

const headerOf = (init: unknown, name: string): string | null => new Headers((init as RequestInit).headers).get(name)

beforeEach(() => setup())

test('third-party requests pass through with the very same arguments', async () => {
  const f = setup()
  const init = { method: 'POST', body: 'x', headers: { a: '1' } }
  const res = await f('https://cdn.other.org/x', init)
  assert.equal(seen[0]!.args.length, 2)
  assert.equal(seen[0]!.args[0], 'https://cdn.other.org/x')
  assert.equal(seen[0]!.args[1], init)
  assert.deepEqual(init.headers, { a: '1' })
  assert.ok(await res.json())
  const [e] = await recorded()
  assert.equal(e!.request_id, null)
  assert.equal(e!.method, 'POST')
  assert.equal(e!.status, 200)
})

test('matching requests get the header and traceparent with one fresh id each', async () => {
  const f = setup()
  await f('/api/a')
  await f('http://api.shop.test:9000/b', { headers: [['X-App', '1']] })
  const ids = seen.map((s) => {
    const h = headerOf(s.args[1], 'x-highlight-request')!
    assert.match(h, /^S{28}\/[0-9a-f]{32}$/)
    const rid = h.split('/')[1]!
    assert.equal(headerOf(s.args[1], 'traceparent')!.split('-')[1], rid)
    return rid
  })
  assert.notEqual(ids[0], ids[1])
  assert.equal(headerOf(seen[1]!.args[1], 'x-app'), '1')
  const es = await recorded(2)
  assert.deepEqual(es.map((e) => e.request_id), ids)
  assert.deepEqual(es[0]!.timing, { dns: 2, connect: 4, tls: 0, ttfb: 10, download: 2 })
})

test('a phase the browser withholds is sent as null, beside the start and end', async () => {
  const f = setup()
  await f('http://api.partner.test:9000/notao')
  const [e] = await recorded()
  assert.deepEqual(e!.timing, { dns: null, connect: null, tls: null, ttfb: null, download: null })
  assert.ok(e!.end >= e!.start && e!.start > 0)
  assert.deepEqual(JSON.parse(JSON.stringify(e!.timing)), e!.timing) // null survives the wire
})

test('headers given as an object, an array or a Headers are all kept', async () => {
  const f = setup()
  await f('/a', { headers: { 'X-One': '1' } })
  await f('/a', { headers: [['X-Two', '2']] })
  await f('/a', { headers: new Headers({ 'X-Three': '3' }) })
  assert.equal(headerOf(seen[0]!.args[1], 'x-one'), '1')
  assert.equal(headerOf(seen[1]!.args[1], 'x-two'), '2')
  assert.equal(headerOf(seen[2]!.args[1], 'x-three'), '3')
  for (const s of seen) assert.ok(headerOf(s.args[1], 'x-highlight-request'))
})

test('a Request keeps its method, body and headers; init headers replace its headers', async () => {
  const f = setup()
  const req = new Request('http://app.shop.test:8000/r', { method: 'PUT', body: 'payload', headers: { 'X-Req': 'r' } })
  await f(req)
  const [input, init] = seen[0]!.args as [Request, RequestInit]
  assert.equal(input, req)
  const sent = new Request(input, init)
  assert.equal(sent.method, 'PUT')
  assert.equal(await sent.text(), 'payload')
  assert.equal(sent.headers.get('x-req'), 'r')
  assert.ok(sent.headers.get('x-highlight-request'))

  const req2 = new Request('http://app.shop.test:8000/r', { headers: { 'X-Req': 'r' } })
  await f(req2, { headers: { 'X-Init': 'i' } })
  const sent2 = new Request(...(seen[1]!.args as [Request, RequestInit]))
  assert.equal(sent2.headers.get('x-req'), null, 'init headers replace the Request headers, as in fetch')
  assert.equal(sent2.headers.get('x-init'), 'i')
  assert.ok(sent2.headers.get('x-highlight-request'))
})

test('other init members are passed on unchanged: streamed body, duplex, signal, inherited', async () => {
  const f = setup()
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode('chunk'))
      c.close()
    },
  })
  const ac = new AbortController()
  const proto = { credentials: 'include' as RequestCredentials }
  const init = Object.assign(Object.create(proto) as RequestInit, {
    method: 'POST',
    body: stream,
    duplex: 'half',
    signal: ac.signal,
  })
  await f('/upload', init)
  const sent = seen[0]!.args[1] as Record<string, unknown>
  assert.notEqual(sent, init)
  assert.equal(sent.body, stream)
  assert.equal(sent.signal, ac.signal)
  assert.equal(sent.duplex, 'half')
  assert.equal(sent.method, 'POST')
  assert.equal(sent.credentials, 'include')
  assert.equal(init.headers, undefined, "the app's init object is not modified")
})

test("an app's own traceparent is kept and reused as the request id", async () => {
  const f = setup()
  const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
  await f('/a', { headers: { traceparent: tp } })
  assert.equal(headerOf(seen[0]!.args[1], 'traceparent'), tp)
  assert.equal(headerOf(seen[0]!.args[1], 'x-highlight-request'), `${SID}/4bf92f3577b34da6a3ce929d0e0e4736`)
})

test('enableTraceparent false sends only x-highlight-request', async () => {
  const f = setup({ traceparent: false })
  await f('/a')
  assert.ok(headerOf(seen[0]!.args[1], 'x-highlight-request'))
  assert.equal(headerOf(seen[0]!.args[1], 'traceparent'), null)
})

test('the response stays readable by the app while bodies are recorded, redacted', async () => {
  const f = setup({ bodies: true })
  reply = async () =>
    new Response('{"user":"bob","token":"t0k","nested":{"password":"pw"}}', {
      status: 201,
      headers: { 'content-type': 'application/json', 'set-cookie': 'sid=1', 'x-trace': 'y' },
    })
  const res = await f('/login', {
    method: 'POST',
    body: JSON.stringify({ user: 'bob', password: 'hunter2' }),
    headers: { Authorization: 'Bearer abc', 'Content-Type': 'application/json' },
  })
  assert.equal(res.status, 201)
  assert.deepEqual(await res.json(), { user: 'bob', token: 't0k', nested: { password: 'pw' } })
  const [e] = await recorded()
  assert.equal(e!.request_headers!.authorization, REDACTED)
  assert.equal(e!.request_headers!['content-type'], 'application/json')
  assert.match(e!.request_headers!['x-highlight-request']!, /^S{28}\//)
  assert.deepEqual(JSON.parse(e!.request_body!), { user: 'bob', password: REDACTED })
  assert.deepEqual(JSON.parse(e!.response_body!), { user: 'bob', token: REDACTED, nested: { password: REDACTED } })
  assert.equal(e!.response_headers!['x-trace'], 'y')
  assert.equal(e!.status, 201)
  assert.equal(e!.response_body_truncated, false)
})

test('response bodies are capped and marked truncated; the app still reads all of it', async () => {
  const f = setup({ bodies: true, limit: 100 })
  const big = 'a'.repeat(10_000)
  reply = async () => new Response(big, { headers: { 'content-type': 'text/plain' } })
  const res = await f('/big')
  assert.equal(await res.text(), big)
  const [e] = await recorded()
  assert.ok(e!.response_body!.length <= 100)
  assert.equal(e!.response_body_truncated, true)
})

test('a Request body is recorded from a clone; the original is sent unread', async () => {
  const f = setup({ bodies: true })
  const req = new Request('http://app.shop.test:8000/r', { method: 'POST', body: '{"secret":"s","a":1}' })
  await f(req)
  const sent = new Request(...(seen[0]!.args as [Request, RequestInit]))
  assert.equal(await sent.text(), '{"secret":"s","a":1}')
  const [e] = await recorded()
  assert.deepEqual(JSON.parse(e!.request_body!), { secret: REDACTED, a: 1 })
})

test('failures reach the app unchanged and are recorded as network or abort', async () => {
  const f = setup()
  const boom = new TypeError('Failed to fetch')
  reply = () => Promise.reject(boom)
  await assert.rejects(f('/down'), (e) => e === boom)
  const abort = new DOMException('aborted', 'AbortError')
  reply = () => Promise.reject(abort)
  await assert.rejects(f('/slow'), (e) => e === abort)
  const es = await recorded(2)
  assert.deepEqual(es.map((e) => [e.error, e.status]), [['network', 0], ['abort', 0]])
})

test('blocklisted URLs get no header and no headers or bodies', async () => {
  const f = setup({ bodies: true, blocklist: ['/auth/'] })
  const init = { headers: { Authorization: 'x' }, body: 'password=1', method: 'POST' }
  await f('/auth/login', init)
  assert.equal(seen[0]!.args[1], init)
  const [e] = await recorded()
  assert.equal(e!.request_id, null)
  assert.equal(e!.request_headers, null)
  assert.equal(e!.request_body, null)
  assert.equal(e!.response_body, null)
})

test("Backlight's own ingest calls are neither traced nor recorded", async () => {
  const f = setup()
  const init = { method: 'POST', body: '{}' }
  await f('http://backlight.test/ingest/v1/batch', init)
  assert.equal(seen[0]!.args[1], init)
  await new Promise((r) => setTimeout(r, 20))
  assert.equal(entries.length, 0)
})

test('an internal failure falls back to the original call', async () => {
  const f = setup(
    {},
    {
      traced: () => {
        throw new Error('bug in the SDK')
      },
    },
  )
  const init = { method: 'GET' }
  const res = await f('/a', init)
  assert.equal(seen[0]!.args[1], init)
  assert.equal(res.status, 200)
})

test('when stopped nothing is added nor recorded', async () => {
  const f = setup({}, { active: () => false })
  await f('/a')
  assert.equal(seen[0]!.args.length, 1)
  await new Promise((r) => setTimeout(r, 20))
  assert.equal(entries.length, 0)
})

test('the original this is passed on', async () => {
  const f = setup()
  const ctx = { marker: 1 }
  await f.call(ctx, '/a')
  await f.call(ctx, 'https://other.org/a')
  assert.equal(seen[0]!.self, ctx)
  assert.equal(seen[1]!.self, ctx)
})

test('a sanitizer returning something unserialisable never reaches the page', async () => {
  const unhandled: unknown[] = []
  const onUnhandled = (e: unknown) => unhandled.push(e)
  process.on('unhandledRejection', onUnhandled)
  try {
    const f = setup(
      {
        sanitize: (e) => {
          const cyclic = e as unknown as Record<string, unknown>
          cyclic.self = cyclic
          return e
        },
      },
      {
        push: (e) => {
          JSON.stringify(e)
        },
      },
    )
    const res = await f('/a')
    assert.equal(res.status, 200)
    await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(unhandled, [])
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
})
