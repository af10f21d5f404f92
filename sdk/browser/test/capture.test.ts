import assert from 'node:assert/strict'
import { test } from 'node:test'
import { errorEntry, patchConsole } from '../src/capture'
import { jsonSafe, render } from '../src/format'
import { hiddenWatcher, isUserActivity } from '../src/replay'
import type { ConsoleEntry, ErrorEntry } from '../src/types'

;(globalThis as unknown as { location: URL }).location = new URL('http://app.test/p')

function fakeConsole() {
  const calls: { level: string; args: unknown[]; self: unknown }[] = []
  const con = {} as Record<string, (...a: unknown[]) => void>
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    con[level] = function (this: unknown, ...args: unknown[]) {
      calls.push({ level, args, self: this })
    }
  }
  return { con: con as unknown as Console, calls }
}

test('console levels are captured and the original is called with the same arguments', () => {
  const { con, calls } = fakeConsole()
  const got: ConsoleEntry[] = []
  const errs: ErrorEntry[] = []
  let active = true
  patchConsole(con, { active: () => active, console: (e) => got.push(e), error: (e) => errs.push(e), log: () => undefined })
  const obj = { a: 1 }
  con.log('hello', 1, obj)
  con.info('i')
  con.warn('w')
  con.debug('d')
  con.error('failed', new RangeError('bad range'))
  assert.deepEqual(got.map((e) => e.level), ['log', 'info', 'warn', 'debug', 'error'])
  assert.equal(got[0]!.message, 'hello 1 {"a":1}')
  assert.deepEqual(got[0]!.args, ['hello', '1', '{"a":1}'])
  assert.equal(calls[0]!.args[2], obj)
  assert.equal(calls[0]!.self, con)
  assert.equal(calls.length, 5)
  assert.equal(errs.length, 1)
  assert.equal(errs[0]!.type, 'RangeError')
  assert.equal(errs[0]!.source, 'console.error')
  active = false
  con.log('not recorded')
  assert.equal(got.length, 5)
  assert.equal(calls.length, 6)
})

test('a console call made while capturing is not captured again', () => {
  const { con, calls } = fakeConsole()
  const got: ConsoleEntry[] = []
  patchConsole(con, {
    active: () => true,
    console: (e) => {
      got.push(e)
      con.log('from inside')
    },
    error: () => undefined,
    log: () => undefined,
  })
  con.log('outer')
  assert.equal(got.length, 1)
  assert.equal(calls.length, 2)
})

test('a capture failure never reaches the caller', () => {
  const { con, calls } = fakeConsole()
  patchConsole(con, {
    active: () => true,
    console: () => {
      throw new Error('sdk bug')
    },
    error: () => undefined,
    log: () => undefined,
  })
  con.warn('still works')
  assert.equal(calls.length, 1)
})

test('render handles cycles, bigint, functions and errors', () => {
  const a: Record<string, unknown> = { n: 1n }
  a.self = a
  assert.equal(render(a), '{"n":"1n","self":"[circular]"}')
  assert.equal(render(function named() {}), '[function named]')
  assert.equal(render(undefined), 'undefined')
  assert.match(render(new Error('x')), /^Error: x/)
})

test('error entries from errors and from other thrown values', () => {
  const e = errorEntry(new TypeError('x is undefined'), 'onerror')
  assert.equal(e.type, 'TypeError')
  assert.equal(e.message, 'x is undefined')
  assert.equal(e.url, 'http://app.test/p')
  assert.ok(e.stack.length > 0)
  assert.ok(e.raw_stack.startsWith('TypeError: x is undefined'))
  const r = errorEntry({ code: 42 }, 'unhandledrejection', { extra: true })
  assert.equal(r.type, 'UnhandledRejection')
  assert.equal(r.message, '{"code":42}')
  assert.deepEqual(r.payload, { extra: true })
})

test('a full snapshot is taken when a tab returns after a long hidden time only', () => {
  const doc = { visibilityState: 'visible' }
  let now = 0
  let snaps = 0
  const on = hiddenWatcher(doc, () => now, () => snaps++, 60_000)
  doc.visibilityState = 'hidden'
  on()
  now = 59_000
  doc.visibilityState = 'visible'
  on()
  assert.equal(snaps, 0)
  doc.visibilityState = 'hidden'
  on()
  now += 60_000
  doc.visibilityState = 'visible'
  on()
  assert.equal(snaps, 1)
  on()
  assert.equal(snaps, 1)
})

test('user activity is told from rrweb events', () => {
  assert.ok(isUserActivity({ type: 3, data: { source: 2 }, timestamp: 0 }))
  assert.ok(isUserActivity({ type: 3, data: { source: 5 }, timestamp: 0 }))
  assert.ok(!isUserActivity({ type: 3, data: { source: 0 }, timestamp: 0 }))
  assert.ok(!isUserActivity({ type: 2, data: {}, timestamp: 0 }))
})

test('jsonSafe keeps serialisable values and renders the others', () => {
  const plain = { a: [1, 'x'] }
  assert.equal(jsonSafe(plain), plain)
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.me = cyclic
  assert.deepEqual(jsonSafe(cyclic), { a: 1, me: '[circular]' })
  assert.deepEqual(jsonSafe({ n: 2n }), { n: '2n' })
})
