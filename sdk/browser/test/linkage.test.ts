import assert from 'node:assert/strict'
import { test } from 'node:test'
import vectors from '../../../docs/linkage-vectors.json'
import { settings } from '../src/client'
import { isId, newSessionId, parseTraceparent, traceHeaders } from '../src/ids'
import { HEADER, TRACEPARENT_HEADER } from '../src/names'
import { type CookieJar, findSite, matches, type Page } from '../src/origins'
import { type KV, Session } from '../src/session'
import type { OriginRule } from '../src/types'

// docs/linkage-vectors.json is the linkage contract as data; the server, the Python SDK and
// backlight doctor read it too.

interface Link {
  value: string
  link: [string, string] | null
  why: string
}

test('the header names are the contract', () => {
  assert.equal(HEADER, vectors.names.header)
  assert.equal(TRACEPARENT_HEADER, vectors.names.traceparent_header)
})

test('ids: the valid ones are accepted, the invalid ones refused', () => {
  for (const c of vectors.ids.valid) assert.ok(isId(c.id), c.why)
  for (const c of vectors.ids.invalid) assert.ok(!isId(c.id), c.why)
})

/** How a receiver reads `x-highlight-request` (docs/linkage.md), on top of isId. */
function receive(value: string): [string, string] | null {
  if (value.length > vectors.limits.header) return null
  const parts = value.replace(/^[ \t]+|[ \t]+$/g, '').split('/')
  return parts.length === 2 && isId(parts[0]) && isId(parts[1]) ? [parts[0], parts[1]] : null
}

test('the header vectors, read as a receiver reads them', () => {
  for (const c of vectors.headers as Link[]) assert.deepEqual(receive(c.value), c.link, c.why)
})

test('the header the SDK stamps is a valid link of its session and request', () => {
  for (let i = 0; i < 100; i++) {
    const sid = newSessionId()
    const t = traceHeaders(sid, null)
    assert.deepEqual(receive(t.highlight), [sid, t.requestId])
    assert.deepEqual(parseTraceparent(t.traceparent!)?.[0], t.requestId)
  }
})

test('traceparent vectors: parsed, and an app-sent valid one becomes the request id', () => {
  const sid = newSessionId()
  for (const c of vectors.traceparent) {
    assert.deepEqual(parseTraceparent(c.value), c.ids, c.why)
    const t = traceHeaders(sid, c.value)
    assert.deepEqual(receive(t.highlight), [sid, t.requestId], c.why)
    if (c.ids) {
      assert.equal(t.requestId, c.ids[0], c.why)
      assert.equal(t.traceparent, null, `${c.why}: the app's traceparent is kept`)
    } else {
      assert.notEqual(t.traceparent, null, c.why)
      assert.deepEqual(parseTraceparent(t.traceparent!)?.[0], t.requestId, c.why)
    }
  }
})

class Mem implements KV {
  m = new Map<string, string>()
  getItem = (k: string): string | null => this.m.get(k) ?? null
  setItem = (k: string, v: string): void => void this.m.set(k, v)
  removeItem = (k: string): void => void this.m.delete(k)
}

test('a stored session resumes only when its id is valid', () => {
  const now = 1_700_000_000_000
  const cases = [
    ...vectors.ids.valid.map((c) => [c.id, true] as const),
    ...vectors.ids.invalid.map((c) => [c.id, false] as const),
  ]
  for (const [id, valid] of cases) {
    const store = new Mem()
    store.setItem('k', JSON.stringify({ id, start: now, last: now, seq: 3, open: false, tab: 't' }))
    const s = new Session(store, 'k', now + 1000)
    assert.equal(s.origin, valid ? 'resumed' : 'new', JSON.stringify(id))
    assert.equal(s.id === id, valid, JSON.stringify(id))
    assert.ok(isId(s.id))
  }
})

/** A browser's cookie jar on `host`: refuses public suffixes and single labels. */
function jar(host: string): CookieJar {
  const cookies = new Map<string, string>()
  const refused = (domain: string): boolean =>
    !domain.includes('.') || vectors.origins.public_suffixes.includes(domain)
  return {
    read: () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    write(c: string) {
      const [pair, ...attrs] = c.split(';')
      const [name, value] = pair!.split('=') as [string, string]
      const domain = attrs.find((a) => a.trim().startsWith('domain='))?.split('=')[1] ?? host
      if (refused(domain) || !(host === domain || host.endsWith(`.${domain}`))) return
      if (attrs.some((a) => a.includes('expires=Thu, 01 Jan 1970'))) cookies.delete(name)
      else cookies.set(name, value)
    },
  }
}

type Rule = string | { regexp: string; flags: string }

test('tracingOrigins vectors', () => {
  for (const c of vectors.origins.cases) {
    const given = c.tracingOrigins as boolean | Rule[] | null
    const option =
      given === null
        ? undefined
        : Array.isArray(given)
          ? given.map((r): OriginRule => (typeof r === 'string' ? r : new RegExp(r.regexp, r.flags)))
          : given
    const rules = settings({ tracingOrigins: option }, 'https://backlight.test').rules
    const at = new URL(c.page)
    const page: Page = { origin: at.origin, hostname: at.hostname, site: () => findSite(at.hostname, jar(at.hostname)) }
    const traced = matches(rules, c.url, new URL(c.url, c.page), page)
    assert.equal(traced, c.traced, `${c.page} -> ${c.url} with ${JSON.stringify(given)}: ${c.why}`)
  }
})
