import assert from 'node:assert/strict'
import { test } from 'node:test'
import { batchJson, Buffer } from '../src/buffer'

const ev = (i: number, pad = 0): string => JSON.stringify({ type: 3, data: { i, pad: 'x'.repeat(pad) }, timestamp: i })

test('over the byte cap the oldest replay events are dropped first and counted', () => {
  const b = new Buffer(1000)
  b.push('console', JSON.stringify({ level: 'log', message: 'keep me' }))
  b.push('errors', JSON.stringify({ message: 'keep me too' }))
  for (let i = 0; i < 20; i++) b.push('events', ev(i, 100))
  assert.ok(b.bytes <= 1000)
  const t = b.take(1e9)
  assert.equal(t.lists.console.length, 1)
  assert.equal(t.lists.errors.length, 1)
  const kept = t.lists.events.map((s) => (JSON.parse(s) as { data: { i: number } }).data.i)
  assert.ok(kept.length > 0 && kept.length < 20)
  assert.equal(kept[kept.length - 1], 19, 'the newest events are kept')
  assert.deepEqual(kept, [...kept].sort((a, c) => a - c))
  assert.equal(t.dropped.events, 20 - kept.length)
  assert.ok(b.lostEvents)
})

test('when no events remain, console then network go', () => {
  const b = new Buffer(300)
  for (let i = 0; i < 5; i++) b.push('network', JSON.stringify({ url: `n${i}`, pad: 'y'.repeat(50) }))
  for (let i = 0; i < 5; i++) b.push('console', JSON.stringify({ message: `c${i}`, pad: 'y'.repeat(50) }))
  const t = b.take(1e9)
  assert.ok(t.dropped.console > 0)
  assert.equal(t.dropped.events, 0)
  assert.equal(t.lists.network.length + t.lists.console.length + t.dropped.console + t.dropped.network, 10)
})

test('per-kind caps drop the oldest items of that kind', () => {
  const b = new Buffer()
  for (let i = 0; i < 1005; i++) b.push('console', JSON.stringify({ i }))
  const t = b.take(1e9)
  assert.equal(t.lists.console.length, 1000)
  assert.equal(JSON.parse(t.lists.console[0]!).i, 5)
  assert.equal(t.dropped.console, 5)
})

test('take respects the size limit, takes at least one item, and resets drop counts', () => {
  const b = new Buffer()
  b.push('events', ev(1, 500))
  b.push('events', ev(2, 500))
  b.push('errors', JSON.stringify({ e: 1 }))
  const t1 = b.take(100)
  assert.equal(t1.lists.errors.length, 1)
  assert.equal(t1.lists.events.length, 0)
  const t2 = b.take(100)
  assert.equal(t2.lists.events.length, 1, 'an item bigger than the limit still goes alone')
  const t3 = b.take(1e9)
  assert.equal(t3.lists.events.length, 1)
  assert.ok(b.isEmpty())
  assert.equal(b.bytes, 0)
})

test('the batch body is protocol v1 JSON', () => {
  const b = new Buffer()
  b.push('events', ev(1))
  b.push('network', JSON.stringify({ url: 'u' }))
  b.push('console', JSON.stringify({ level: 'warn' }))
  b.push('track', JSON.stringify({ event: 'checkout' }))
  b.identify = JSON.stringify({ identifier: 'a@b.c', metadata: {} })
  const body = JSON.parse(batchJson({ project_id: 'p"1', session_secure_id: 'S'.repeat(28), seq: 7 }, b.take(1e9)))
  assert.deepEqual(Object.keys(body), [
    'v', 'project_id', 'session_secure_id', 'seq', 'events', 'network', 'console', 'errors', 'track', 'identify', 'dropped',
  ])
  assert.equal(body.v, 1)
  assert.equal(body.project_id, 'p"1')
  assert.equal(body.seq, 7)
  assert.equal(body.events[0].type, 3)
  assert.equal(body.identify.identifier, 'a@b.c')
  assert.deepEqual(body.dropped, { events: 0, network: 0, console: 0 })
  assert.ok(b.isEmpty())
})
