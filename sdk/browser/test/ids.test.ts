import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { newSessionId, parseTraceparent, randomHex, traceHeaders } from '../src/ids'
import { VERSION } from '../src/version'

test('session ids are 28 characters of [A-Za-z0-9] and differ', () => {
  const ids = new Set<string>()
  for (let i = 0; i < 200; i++) {
    const id = newSessionId()
    assert.match(id, /^[A-Za-z0-9]{28}$/)
    ids.add(id)
  }
  assert.equal(ids.size, 200)
})

test('random hex is lowercase, of the asked length, never all zero', () => {
  for (let i = 0; i < 100; i++) {
    assert.match(randomHex(16), /^[0-9a-f]{32}$/)
    assert.doesNotMatch(randomHex(1), /^00$/)
  }
})

test('x-highlight-request is <session>/<32 hex> and traceparent carries the same id', () => {
  const sid = newSessionId()
  const t = traceHeaders(sid, null)
  assert.match(t.requestId, /^[0-9a-f]{32}$/)
  assert.equal(t.highlight, `${sid}/${t.requestId}`)
  assert.match(t.highlight, /^[A-Za-z0-9]{28}\/[0-9a-f]{32}$/)
  assert.equal(parseTraceparent(t.traceparent!)?.[0], t.requestId)
  assert.match(t.traceparent!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
})

test('each request gets a fresh request id', () => {
  const sid = newSessionId()
  assert.notEqual(traceHeaders(sid, null).requestId, traceHeaders(sid, null).requestId)
})

test("an app's own traceparent is kept and its trace id becomes the request id", () => {
  const own = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
  const t = traceHeaders('A'.repeat(28), own)
  assert.equal(t.requestId, '4bf92f3577b34da6a3ce929d0e0e4736')
  assert.equal(t.traceparent, null)
  const bad = traceHeaders('A'.repeat(28), 'garbage')
  assert.match(bad.traceparent!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
})

test('VERSION matches package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  assert.equal(VERSION, pkg.version)
})
