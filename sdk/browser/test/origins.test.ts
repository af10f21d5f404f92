import assert from 'node:assert/strict'
import { test } from 'node:test'
import { blocked, type CookieJar, findSite, matches, type Page, type Rules } from '../src/origins'

/** A cookie jar that behaves like a browser's for `host`: refuses public suffixes. */
function jar(host: string, suffixes = ['com', 'io', 'github.io', 'uk', 'co.uk', 'test']): CookieJar & {
  writes: string[]
} {
  const cookies = new Map<string, string>()
  const writes: string[] = []
  return {
    writes,
    read: () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    write(c: string) {
      writes.push(c)
      const [pair, ...attrs] = c.split(';')
      const [name, value] = pair!.split('=') as [string, string]
      const domain = attrs.find((a) => a.trim().startsWith('domain='))?.split('=')[1] ?? host
      const ok = !suffixes.includes(domain) && (host === domain || host.endsWith(`.${domain}`))
      if (!ok) return
      if (attrs.some((a) => a.includes('expires=Thu, 01 Jan 1970'))) cookies.delete(name)
      else cookies.set(name, value)
    },
  }
}

test('the cookie probe finds the registrable domain and cleans up', () => {
  const j = jar('app.shop.example.com')
  assert.equal(findSite('app.shop.example.com', j), 'example.com')
  assert.equal(j.read(), '')
  assert.equal(findSite('www.example.co.uk', jar('www.example.co.uk')), 'example.co.uk')
})

test('the cookie probe never treats a public suffix as a site', () => {
  assert.equal(findSite('a.github.io', jar('a.github.io')), 'a.github.io')
  assert.equal(findSite('x.a.github.io', jar('x.a.github.io')), 'a.github.io')
})

test('IPs, single labels and failing cookies fall back to the host', () => {
  assert.equal(findSite('127.0.0.1', jar('127.0.0.1')), '127.0.0.1')
  assert.equal(findSite('localhost', jar('localhost')), 'localhost')
  assert.equal(findSite('[::1]', jar('[::1]')), '[::1]')
  const throwing: CookieJar = {
    read: () => '',
    write: () => {
      throw new Error('SecurityError')
    },
  }
  assert.equal(findSite('app.example.com', throwing), 'app.example.com')
})

function page(href: string): Page {
  const u = new URL(href)
  return { origin: u.origin, hostname: u.hostname, site: () => findSite(u.hostname, jar(u.hostname)) }
}

const check = (rules: Rules, raw: string, from: string): boolean =>
  matches(rules, raw, new URL(raw, from), page(from))

test('tracingOrigins true: relative, localhost, own host, every subdomain and the parent', () => {
  const from = 'https://app.example.com/cart'
  assert.ok(check(true, '/api/items', from))
  assert.ok(check(true, 'api/items', from))
  assert.ok(check(true, 'http://localhost:8080/x', from))
  assert.ok(check(true, 'https://app.example.com:8443/x', from))
  assert.ok(check(true, 'https://api.example.com/x', from))
  assert.ok(check(true, 'https://example.com/x', from))
  assert.ok(check(true, 'https://deep.api.example.com/x', from))
  assert.ok(!check(true, 'https://example.org/x', from))
  assert.ok(!check(true, 'https://notexample.com/x', from))
  assert.ok(!check(true, 'https://example.com.evil.net/x', from))
  assert.ok(!check(true, 'https://cdn.thirdparty.com/x', from))
})

test('tracingOrigins true never crosses a public suffix', () => {
  const from = 'https://a.github.io/'
  assert.ok(check(true, 'https://a.github.io/api', from))
  assert.ok(!check(true, 'https://b.github.io/api', from))
  assert.ok(!check(true, 'https://github.io/api', from))
})

test('tracingOrigins strings match as substrings of the full URL, RegExps are tested', () => {
  const from = 'https://app.example.com/'
  const rules: Rules = ['api.partner.net', /^https:\/\/[a-z]+\.backend\.org\//g]
  assert.ok(check(rules, 'https://api.partner.net/v1', from))
  assert.ok(check(rules, 'https://x.backend.org/a', from))
  // a global RegExp keeps lastIndex between calls: matching must not depend on it
  assert.ok(check(rules, 'https://y.backend.org/b', from))
  assert.ok(!check(rules, 'https://backend.org/b', from))
  assert.ok(!check(rules, 'https://app.example.com/own', from))
  assert.ok(check(['/api/'], '/api/items', from))
  assert.ok(!check([''], 'https://x.org/', from))
})

test('default is the page origin only; false matches nothing; only http(s)', () => {
  const from = 'https://app.example.com/'
  assert.ok(check('self', '/x', from))
  assert.ok(check('self', 'https://app.example.com/y', from))
  assert.ok(!check('self', 'https://app.example.com:444/y', from))
  assert.ok(!check('self', 'https://api.example.com/y', from))
  assert.ok(!check(false, '/x', from))
  assert.ok(!check(true, 'data:text/plain,hi', from))
  assert.ok(!check(true, 'blob:https://app.example.com/1', from))
})

test('the probe runs only for absolute URLs off the own host', () => {
  let probes = 0
  const p: Page = { origin: 'https://app.example.com', hostname: 'app.example.com', site: () => (probes++, 'example.com') }
  matches(true, '/x', new URL('https://app.example.com/x'), p)
  matches(true, 'https://app.example.com/x', new URL('https://app.example.com/x'), p)
  assert.equal(probes, 0)
  matches(true, 'https://api.example.com/x', new URL('https://api.example.com/x'), p)
  assert.equal(probes, 1)
})

test('urlBlocklist entries are substrings; empty entries block nothing', () => {
  assert.ok(blocked(['/auth/', 'securetoken'], 'https://app.example.com/auth/login'))
  assert.ok(!blocked(['/auth/'], 'https://app.example.com/api'))
  assert.ok(!blocked([''], 'https://app.example.com/api'))
})
