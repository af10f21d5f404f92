import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DebugIds, MAX_IDS, MAX_URL } from '../src/debugids'
import { parseStack } from '../src/stack'

const A = 'https://app.example.com/static/js/app.js'
const B = 'https://cdn.example.com/vendor.js'
const ID_A = '85314830-023F-4CF1-A267-535F4E37BB17'
const ID_B = '0a1b2c3d4e5f60718293a4b5c6d7e8f9'

// What a registration snippet stores: the stack of an Error made at the script's top level.
const key = (url: string, line = 1): string => `Error\n    at ${url}:${line}:120`
const gecko = (url: string): string => `@${url}:1:120\n`

function page(registries: Record<string, unknown>) {
  const scope: Record<string, unknown> = { ...registries }
  return { scope, ids: new DebugIds(() => scope) }
}

test('the registry maps each script to its id; frames name the scripts sent', () => {
  const { ids } = page({ _sentryDebugIds: { [key(A)]: ID_A, [gecko(B)]: ID_B } })
  const frames = parseStack(`Error: x\n    at f (${A}:1:50)\n    at g (${A}:1:70)\n    at ${B}:3:9`)
  assert.deepEqual(ids.forFrames(frames), { [A]: ID_A.toLowerCase(), [B]: ID_B })
  const other = parseStack('Error\n    at h (https://other.example.com/x.js:1:1)')
  assert.equal(ids.forFrames(other), undefined, 'no entry: no field')
  assert.equal(ids.forFrames([]), undefined)
})

test("the neutral _debugIds registry is read too, and wins over Sentry's for one script", () => {
  const newer = '11111111-2222-3333-4444-555555555555'
  const { ids } = page({ _sentryDebugIds: { [key(A)]: ID_A }, _debugIds: { [key(A, 2)]: newer } })
  assert.deepEqual(ids.forFrames(parseStack(`at f (${A}:1:5)`)), { [A]: newer })
})

test('no registry: nothing sent', () => {
  const { ids } = page({})
  assert.equal(ids.forFrames(parseStack(`at f (${A}:1:5)`)), undefined)
  const odd = page({ _sentryDebugIds: 'not an object', _debugIds: null })
  assert.equal(odd.ids.forFrames(parseStack(`at f (${A}:1:5)`)), undefined)
})

test("the script is the key's last frame (a registration inside a wrapper function)", () => {
  const wrapped = `Error\n    at register (${B}:1:10)\n    at ${A}:1:500`
  const { ids } = page({ _sentryDebugIds: { [wrapped]: ID_A } })
  assert.deepEqual(ids.forFrames(parseStack(`at f (${A}:1:5)`)), { [A]: ID_A.toLowerCase() })
})

test('ids that are not debug ids, and unparsable keys, are skipped', () => {
  const { ids } = page({
    _sentryDebugIds: {
      [key(A)]: 'not-a-debug-id',
      [key(B)]: 42,
      'no stack here': ID_A,
      [key('https://x.example.com/c.js')]: `${ID_B}0`.repeat(2),
    },
  })
  const frames = parseStack(`at f (${A}:1:5)\n    at g (${B}:1:5)\n    at h (https://x.example.com/c.js:1:1)`)
  assert.equal(ids.forFrames(frames), undefined)
})

test('bounded: at most MAX_IDS entries, no URL over MAX_URL', () => {
  const registry: Record<string, string> = {}
  const lines: string[] = []
  for (let i = 0; i < MAX_IDS + 10; i++) {
    const url = `https://app.example.com/chunk-${i}.js`
    registry[key(url)] = ID_B
    lines.push(`    at f${i} (${url}:1:1)`)
  }
  const long = `https://app.example.com/${'a'.repeat(MAX_URL)}.js`
  registry[key(long)] = ID_A
  const { ids } = page({ _sentryDebugIds: registry })
  const sent = ids.forFrames(parseStack(`at g (${long}:1:1)\n${lines.join('\n')}`))!
  assert.equal(Object.keys(sent).length, MAX_IDS)
  assert.ok(!(long in sent))
})

test('each key is parsed once; the map is rebuilt only when a registry grows', () => {
  const registry: Record<string, string> = { [key(A)]: ID_A }
  const scope = { _sentryDebugIds: registry }
  const parsed: string[] = []
  const ids = new DebugIds(
    () => scope,
    (s) => {
      parsed.push(s)
      return parseStack(s)
    },
  )
  const frames = parseStack(`at f (${A}:1:5)\n    at g (${B}:1:5)`)
  const first = ids.map()
  assert.equal(ids.forFrames(frames)![A], ID_A.toLowerCase())
  assert.equal(ids.map(), first, 'same sizes: the cached map itself')
  registry[key(B)] = ID_B // a chunk loaded later registers its id
  assert.deepEqual(ids.forFrames(frames), { [A]: ID_A.toLowerCase(), [B]: ID_B })
  assert.deepEqual(parsed, [key(A), key(B)], 'the first key was not parsed again')
})
