import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Marks, phases } from '../src/timing'

// What Chromium reports (ms since the time origin) for the same fetch in three cases.
const FRESH_HTTPS: Marks = {
  domainLookupStart: 100,
  domainLookupEnd: 104,
  connectStart: 104,
  connectEnd: 130,
  secureConnectionStart: 110,
  requestStart: 130.04,
  responseStart: 180,
  responseEnd: 186.5,
}
// A cross-origin response without Timing-Allow-Origin: only startTime, fetchStart and
// responseEnd are exposed, every other mark reads 0.
const WITHHELD: Marks = {
  domainLookupStart: 0,
  domainLookupEnd: 0,
  connectStart: 0,
  connectEnd: 0,
  secureConnectionStart: 0,
  requestStart: 0,
  responseStart: 0,
  responseEnd: 186.5,
}
// A reused http connection: no lookup, no connect, no TLS; the marks equal fetchStart.
const REUSED_HTTP: Marks = {
  domainLookupStart: 100,
  domainLookupEnd: 100,
  connectStart: 100,
  connectEnd: 100,
  secureConnectionStart: 0,
  requestStart: 100.2,
  responseStart: 150.2,
  responseEnd: 151,
}

test('every phase of a fresh https request', () => {
  assert.deepEqual(phases(FRESH_HTTPS), { dns: 4, connect: 26, tls: 20, ttfb: 50, download: 6.5 })
})

test('withheld marks (no Timing-Allow-Origin) are unknown, never 0', () => {
  assert.deepEqual(phases(WITHHELD), { dns: null, connect: null, tls: null, ttfb: null, download: null })
})

test('a real 0 stays 0: reused connection, no TLS', () => {
  assert.deepEqual(phases(REUSED_HTTP), { dns: 0, connect: 0, tls: 0, ttfb: 50, download: 0.8 })
})

test('each phase is unknown on its own when only its marks are withheld', () => {
  // responseStart withheld, the connection marks shared
  assert.deepEqual(phases({ ...REUSED_HTTP, requestStart: 0, responseStart: 0 }), {
    dns: 0,
    connect: 0,
    tls: 0,
    ttfb: null,
    download: null,
  })
  assert.deepEqual(phases({ ...FRESH_HTTPS, domainLookupStart: 0, domainLookupEnd: 0 }).dns, null)
})

test('marks out of order give unknown, not a negative or 0 duration', () => {
  const t = phases({ ...FRESH_HTTPS, responseEnd: 170, secureConnectionStart: 140 })
  assert.equal(t.download, null)
  assert.equal(t.tls, null)
  assert.equal(t.ttfb, 50)
})
