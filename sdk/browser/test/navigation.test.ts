import assert from 'node:assert/strict'
import { test } from 'node:test'
import vectors from '../../../docs/linkage-vectors.json'
import { META_TIME_ATTRIBUTE, TIME_METRIC, TRACEPARENT_METRIC } from '../src/names'
import { documentEntry, documentRequestId, MAX_AGE_MS, type NavTiming, remember } from '../src/navigation'

const NAV = vectors.navigation

test('the navigation names and age are the contract', () => {
  assert.equal(TRACEPARENT_METRIC, NAV.names.traceparent_metric)
  assert.equal(TRACEPARENT_METRIC, NAV.names.meta_name)
  assert.equal(TIME_METRIC, NAV.names.time_metric)
  assert.equal(META_TIME_ATTRIBUTE, NAV.names.meta_time_attribute)
  assert.equal(MAX_AGE_MS, NAV.max_age_ms)
})

/** A navigation entry whose request left at `NAV.request_start` (epoch ms). */
function entry(serverTiming: { name: string; description: string }[], transferSize: number | null): NavTiming {
  const nav: NavTiming = {
    name: 'https://app.example.com/orders',
    fetchStart: 2,
    domainLookupStart: 3,
    domainLookupEnd: 4,
    connectStart: 4,
    connectEnd: 9,
    secureConnectionStart: 5,
    requestStart: 100,
    responseStart: 140,
    responseEnd: 150,
    responseStatus: 200,
    encodedBodySize: 4096,
    serverTiming,
  }
  if (transferSize !== null) nav.transferSize = transferSize
  return nav
}
const TIME_ORIGIN = NAV.request_start - 100

test('navigation vectors: which document requests are linked', () => {
  for (const c of NAV.cases) {
    const nav = entry(c.server_timing, c.transfer_size)
    assert.equal(documentRequestId(nav, c.meta, TIME_ORIGIN), c.link, c.why)
  }
})

test('a stale Server-Timing (a page from a cache) is not linked to the request that made it', () => {
  const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  const at = (ms: number, size: number | null = 5120) =>
    documentRequestId(entry([{ name: 'traceparent', description: tp }, { name: 'backlight-time', description: String(ms) }], size), null, TIME_ORIGIN)
  assert.equal(at(NAV.request_start - 10), '0af7651916cd43dd8448eb211c80319c')
  assert.equal(at(NAV.request_start - 3 * 60_000), null, 'a shared cache served it three minutes later')
  assert.equal(at(NAV.request_start - 10, 0), null, "the browser's own cache, however fresh the time")
  // a back/forward navigation restored from the HTTP cache an hour later
  assert.equal(documentRequestId(entry([{ name: 'traceparent', description: tp }, { name: 'backlight-time', description: String(NAV.request_start) }], 0), null, TIME_ORIGIN + 3_600_000), null)
})

test('the document request becomes a network entry of the session', () => {
  const nav = entry([], 5120)
  const e = documentEntry(nav, '0af7651916cd43dd8448eb211c80319c', TIME_ORIGIN)
  assert.equal(e.type, 'navigation')
  assert.equal(e.method, 'GET')
  assert.equal(e.url, 'https://app.example.com/orders')
  assert.equal(e.status, 200)
  assert.equal(e.request_id, '0af7651916cd43dd8448eb211c80319c')
  assert.equal(e.start, TIME_ORIGIN + 2)
  assert.equal(e.end, TIME_ORIGIN + 150)
  assert.equal(e.response_size, 4096)
  assert.deepEqual(e.timing, { dns: 1, connect: 5, tls: 4, ttfb: 40, download: 10 })
  const old: NavTiming = { ...nav }
  delete old.responseStatus
  assert.equal(documentEntry(old, 'x1', TIME_ORIGIN).status, 0, 'a browser without responseStatus: unknown')
})

test('a request id is recorded once per browser, whichever tab reads it', () => {
  const m = new Map<string, string>()
  const store = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) }
  const now = 1_700_000_000_000
  assert.equal(remember(store, 'k', 'a1', now), true)
  assert.equal(remember(store, 'k', 'a1', now + 1000), false)
  assert.equal(remember(store, 'k', 'b2', now + 1000), true)
  assert.equal(remember(store, 'k', 'a1', now + 11 * 60_000), true, 'forgotten after 10 minutes')
  for (let i = 0; i < 80; i++) remember(store, 'k', `n${i}`, now + 11 * 60_000)
  assert.ok((JSON.parse(m.get('k')!) as unknown[]).length <= 50)
  m.set('k', '{garbage')
  assert.equal(remember(store, 'k', 'c3', now), true)
  const broken = {
    getItem: (): string | null => {
      throw new Error('denied')
    },
    setItem: (): void => {
      throw new Error('denied')
    },
  }
  assert.equal(remember(broken, 'k', 'd4', now), true)
  assert.equal(remember(null, 'k', 'd4', now), true)
})
