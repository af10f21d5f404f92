import assert from 'node:assert/strict'
import { test } from 'node:test'
import vectors from '../../../tests/vectors/redaction.json'
import {
  capBytes,
  CONTAINS,
  COUNT,
  COUNT_WORDS,
  EXACT,
  HIDE,
  IGNORED_IN_NAMES,
  KEEP,
  nameRule,
  REDACTED,
  redactBody,
  redactHeaders,
  type Verdict,
} from '../src/redact'

// tests/vectors/redaction.json is the one statement of the rule; the server's tests
// (server/tests/pipeline/test_redact.py) read it too.

const lower = (names: string[] | undefined): Set<string> => new Set((names ?? []).map((n) => n.toLowerCase()))

test('the rule is the one in the shared vectors', () => {
  const rule = vectors.rule
  assert.equal(rule.redacted, REDACTED)
  assert.equal(rule.ignored_in_names, IGNORED_IN_NAMES)
  assert.deepEqual([...EXACT].sort(), [...rule.exact].sort())
  assert.deepEqual([...CONTAINS].sort(), [...rule.contains].sort())
  assert.deepEqual([...COUNT_WORDS], rule.count_words)
})

test('names: hidden, token counts, kept', () => {
  const groups: [string[], Verdict][] = [
    [vectors.names.hide, HIDE],
    [vectors.names.count, COUNT],
    [vectors.names.keep, KEEP],
  ]
  for (const [names, verdict] of groups) {
    assert.deepEqual(
      names.filter((n) => nameRule(n) !== verdict),
      [],
    )
  }
})

for (const c of vectors.headers) {
  test(`headers: ${c.name}`, () => {
    const pairs = c.in.map(([k, v]) => [k, v] as [string, string])
    assert.deepEqual(redactHeaders(pairs, lower(c.extra)), c.out)
  })
}

for (const c of vectors.bodies as { name: string; in: string; out: string; extra?: string[] }[]) {
  test(`bodies: ${c.name}`, () => {
    const out = redactBody(c.in, lower(c.extra))
    assert.equal(out, c.out)
    let valid = true
    try {
      JSON.parse(c.in)
    } catch {
      valid = false
    }
    if (valid) JSON.parse(out) // valid JSON in, valid JSON out
  })
}

// --- properties ------------------------------------------------------------------------------

function rng(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const NAMES = ['id', 'name', 'items', 'password', 'new_password', 'session_token', 'max_tokens', 'tokens', 'apiKey', 'note', 'cvv', 'author']

function value(r: () => number, depth: number): unknown {
  const pick = Math.floor(r() * (depth < 4 ? 8 : 4))
  const choose = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!
  if (pick === 7) {
    // JSON encoded in a string, as some APIs nest it
    const flat: Record<string, unknown> = {}
    for (let i = 1 + Math.floor(r() * 3); i > 0; i--) flat[choose(NAMES)] = value(r, 4)
    return JSON.stringify(flat, null, r() < 0.5 ? 1 : undefined)
  }
  if (pick === 0) return choose(['x', 'password', 'a"b\\c', '', '{', ']', ':', 'é\u2028'])
  if (pick === 1) return choose([0, -3, 1.5e-7, true, false, null])
  if (pick === 2 || pick === 3) return `SECRET${Math.floor(r() * 1e9)}`
  if (pick === 4 || pick === 5) {
    const o: Record<string, unknown> = {}
    for (let i = Math.floor(r() * 4); i > 0; i--) o[choose(NAMES)] = value(r, depth + 1)
    return o
  }
  return Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1))
}

/** The JSON a string holds, if it holds an object or array. */
function holds(v: unknown): object | null {
  if (typeof v !== 'string' || !(v.startsWith('{') || v.startsWith('['))) return null
  try {
    const inner: unknown = JSON.parse(v)
    return inner && typeof inner === 'object' ? inner : null
  } catch {
    return null
  }
}

/** `v` with the JSON held in strings parsed, to compare content, not escapes. */
function parsed(v: unknown): unknown {
  const inner = holds(v)
  if (inner) return { holds: parsed(inner) }
  if (Array.isArray(v)) return v.map(parsed)
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, parsed(x)]))
  return v
}

/** The rule applied to parsed JSON (the test's own statement of it). */
function expected(v: unknown): unknown {
  const inner = holds(v)
  if (inner) return JSON.stringify(expected(inner))
  if (Array.isArray(v)) return v.map(expected)
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) {
      const verdict = nameRule(k)
      const keep = verdict === KEEP || (verdict === COUNT && typeof x === 'number')
      out[k] = keep ? expected(x) : REDACTED
    }
    return out
  }
  return v
}

test('valid JSON stays valid and is redacted by the rule, whatever its formatting', () => {
  const r = rng(16)
  for (let i = 0; i < 2000; i++) {
    const v: Record<string, unknown> = {}
    for (let j = 1 + Math.floor(r() * 4); j > 0; j--) v[NAMES[Math.floor(r() * NAMES.length)]!] = value(r, 0)
    const text = JSON.stringify(v, null, [undefined, 0, 2, '\t'][Math.floor(r() * 4)])
    assert.deepEqual(parsed(JSON.parse(redactBody(text, new Set()))), parsed(expected(JSON.parse(text))), text)
  }
})

test('a cut JSON body leaks no value that sits under a sensitive key', () => {
  const r = rng(61)
  const secrets = (v: unknown, hidden: boolean, out: Set<string>): Set<string> => {
    const inner = hidden ? null : holds(v)
    if (inner) secrets(inner, false, out)
    else if (typeof v === 'string' && hidden && v.startsWith('SECRET')) out.add(v)
    else if (Array.isArray(v)) v.forEach((x) => secrets(x, hidden, out))
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) secrets(x, hidden || nameRule(k) !== KEEP, out)
    return out
  }
  let checked = 0
  for (let i = 0; i < 300; i++) {
    const v: Record<string, unknown> = {}
    for (let j = 1 + Math.floor(r() * 4); j > 0; j--) v[NAMES[Math.floor(r() * NAMES.length)]!] = value(r, 0)
    const text = JSON.stringify(v, null, r() < 0.5 ? 2 : undefined)
    const hidden = secrets(v, false, new Set())
    for (let cut = 0; hidden.size && cut <= text.length; cut++, checked++) {
      const out = redactBody(text.slice(0, cut), new Set())
      for (const s of hidden) assert.ok(!out.includes(s), `${text.slice(0, cut)} -> ${out}`)
    }
  }
  assert.ok(checked > 10_000)
})

// --- cost ------------------------------------------------------------------------------------

const HOSTILE: Record<string, (n: number) => string> = {
  quotes: (n) => '"'.repeat(n),
  keys: (n) => '"x":'.repeat(n / 4),
  'sensitive pairs': (n) => '{' + '"token":1,'.repeat(n / 10),
  'brackets under a secret': (n) => '{"secret":' + '['.repeat(n),
  backslashes: (n) => '"' + '\\'.repeat(n),
  'escaped quotes': (n) => '{"a":"' + '\\"'.repeat(n / 2),
  'spaced strings': (n) => ('"token"' + ' '.repeat(57)).repeat(n / 64),
  'form ampersands': (n) => 'x=1' + '&'.repeat(n),
  'form questions': (n) => 'x=' + '?='.repeat(n / 2),
  'many pairs and one question mark': (n) => 'a=1&'.repeat(n / 4) + '?',
  'form escapes': (n) => '%41'.repeat(n / 3) + '=x',
}

const cpu = (text: string): number => {
  let best = Infinity
  for (let i = 0; i < 5; i++) {
    const t0 = process.cpuUsage()
    redactBody(text, new Set())
    const d = process.cpuUsage(t0)
    best = Math.min(best, d.user + d.system)
  }
  return best
}

for (const [name, make] of Object.entries(HOSTILE)) {
  test(`cost is linear: ${name}`, () => {
    // 32x the input costs about 32x the time; quadratic work would be 1024x. The bound sits
    // at their geometric mean, 181x: caches and garbage collection make large inputs cost up
    // to 3x more per byte (CI saw 25x for an 8x step), and quadratic work still fails it by
    // a factor of five.
    const ratio = cpu(make(1024 * 1024)) / Math.max(cpu(make(32 * 1024)), 100)
    assert.ok(ratio < 181, `${ratio.toFixed(1)}x the time for 32x the input`)
  })
}

test('bodies are capped by UTF-8 bytes and the cut is reported', () => {
  assert.deepEqual(capBytes('abc', 10), ['abc', false])
  const [s, cut] = capBytes('x'.repeat(100), 10)
  assert.equal(s.length, 10)
  assert.ok(cut)
  const [m, cut2] = capBytes('é'.repeat(100), 51)
  assert.ok(cut2)
  assert.ok(Buffer.byteLength(m) <= 51)
  assert.ok(Buffer.byteLength(m) > 40)
})
