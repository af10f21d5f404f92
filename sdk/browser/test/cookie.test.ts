import assert from 'node:assert/strict'
import { test } from 'node:test'
import vectors from '../../../docs/linkage-vectors.json'
import { settings } from '../src/client'
import { cookieMs, cookieScope, SessionCookie } from '../src/cookie'
import { SESSION_COOKIE } from '../src/names'
import { type CookieJar, findSite } from '../src/origins'
import { IDLE_MS, type KV, MAX_MS, Session } from '../src/session'
import type { OriginRule } from '../src/types'

// The session cookie against docs/linkage-vectors.json ("cookie_scope": the tracingOrigins
// pages), in a cookie jar that follows RFC 6265 as browsers do: Domain must cover the page's
// host and not be a public suffix, Secure only from https, max-age 0 deletes.

interface Stored {
  name: string
  value: string
  domain: string
  hostOnly: boolean
  secure: boolean
  expires: number
}

const suffix = (d: string): boolean => !d.includes('.') || vectors.origins.public_suffixes.includes(d)
const isIp = (h: string): boolean => /^[\d.]+$/.test(h) || h.startsWith('[')

/** Would a browser send `c` with a request to `url`? */
function sends(c: Stored | null, url: string, now: number): boolean {
  if (!c || c.expires <= now) return false
  const u = new URL(url)
  if (c.secure && u.protocol !== 'https:') return false
  const h = u.hostname
  return c.hostOnly ? h === c.domain : h === c.domain || h.endsWith(`.${c.domain}`)
}

class Jar implements CookieJar {
  cookies = new Map<string, Stored>()
  now = 1_700_000_000_000
  constructor(
    private page: URL,
    private mode: string | null = null,
  ) {}

  read(): string {
    if (this.mode === 'throws') throw new Error('SecurityError')
    const pageUrl = this.page.href
    return [...this.cookies.values()]
      .filter((c) => sends(c, pageUrl, this.now))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ')
  }

  write(line: string): void {
    if (this.mode === 'throws') throw new Error('SecurityError')
    if (this.mode === 'refuses') return
    const [pair, ...attrs] = line.split(';').map((s) => s.trim())
    const eq = pair!.indexOf('=')
    const name = pair!.slice(0, eq)
    const value = pair!.slice(eq + 1)
    const attr = (n: string): string | undefined =>
      attrs.find((a) => a.toLowerCase().startsWith(`${n}=`))?.slice(n.length + 1)
    const host = this.page.hostname
    let domain = (attr('domain') ?? '').replace(/^\./, '').toLowerCase()
    let hostOnly = domain === ''
    if (!hostOnly && suffix(domain)) {
      if (domain !== host) return
      hostOnly = true // RFC 6265 5.3 step 5: a public suffix that is the host itself
    }
    if (!hostOnly && (isIp(host) ? domain !== host : !(host === domain || host.endsWith(`.${domain}`)))) return
    if (hostOnly) domain = host
    const secure = attrs.some((a) => a.toLowerCase() === 'secure')
    if (secure && this.page.protocol !== 'https:') return
    const maxAge = attr('max-age')
    const gone = (maxAge !== undefined && Number(maxAge) <= 0) || (attr('expires') ?? '').includes('1970')
    const key = `${name};${domain};${hostOnly}`
    if (gone) {
      this.cookies.delete(key)
      // host-only and domain cookies of one name and domain are the same cookie
      this.cookies.delete(`${name};${domain};${!hostOnly}`)
      return
    }
    this.cookies.delete(`${name};${domain};${!hostOnly}`)
    const expires = maxAge === undefined ? Infinity : this.now + Number(maxAge) * 1000
    this.cookies.set(key, { name, value, domain, hostOnly, secure, expires })
  }

  ours(): Stored[] {
    return [...this.cookies.values()].filter((c) => c.name === SESSION_COOKIE && c.expires > this.now)
  }
}

type Rule = string | { regexp: string; flags: string }
const SID = 'Ab3dEf7hIj0lMn4pQr8tUv2xYz6a'

test('cookie_scope vectors: where the cookie is set, and which requests carry it', () => {
  for (const c of vectors.cookie_scope) {
    const at = new URL(c.page)
    const jar = new Jar(at, c.jar)
    const given = c.tracingOrigins as boolean | Rule[] | null
    const option =
      given === null
        ? undefined
        : Array.isArray(given)
          ? given.map((r): OriginRule => (typeof r === 'string' ? r : new RegExp(r.regexp, r.flags)))
          : given
    const s = settings({ tracingOrigins: option, sessionCookie: c.sessionCookie ?? undefined }, 'https://backlight.test')
    const why = `${c.page} ${JSON.stringify(given)} sessionCookie=${c.sessionCookie}: ${c.why}`
    const scope = cookieScope(s.rules, s.sessionCookie, {
      protocol: at.protocol,
      hostname: at.hostname,
      site: () => findSite(at.hostname, jar),
    })
    if (scope !== null) {
      const cookie = new SessionCookie(jar, scope, at.protocol === 'https:')
      const kept = cookie.set(SID, IDLE_MS)
      assert.equal(kept, c.domain !== null, why)
      assert.equal(cookie.dead, c.domain === null, why)
    }
    const ours = jar.ours()
    if (c.domain === null) {
      assert.deepEqual(ours, [], why)
    } else {
      assert.equal(ours.length, 1, why)
      const stored = ours[0]!
      assert.equal(stored.value, SID, why)
      assert.equal(stored.hostOnly, c.domain === '', why)
      if (c.domain) assert.equal(stored.domain, c.domain, why)
      assert.equal(stored.secure, at.protocol === 'https:', why)
    }
    for (const url of c.sent) assert.ok(sends(ours[0] ?? null, url, jar.now), `${why}: sent to ${url}`)
    for (const url of c.not_sent) assert.ok(!sends(ours[0] ?? null, url, jar.now), `${why}: not sent to ${url}`)
    // the probe left nothing behind
    assert.deepEqual(
      [...jar.cookies.values()].filter((x) => x.name !== SESSION_COOKIE),
      [],
      why,
    )
  }
})

test('the cookie is SameSite=Lax, path=/, max-age in seconds, Secure on https', () => {
  const writes: string[] = []
  const jar: CookieJar = { read: () => `${SESSION_COOKIE}=${SID}`, write: (l) => void writes.push(l) }
  new SessionCookie(jar, 'example.com', true).set(SID, IDLE_MS)
  assert.deepEqual(writes.at(-1)!.split(';'), [
    `${SESSION_COOKIE}=${SID}`,
    'path=/',
    'domain=example.com',
    'SameSite=Lax',
    'Secure',
    'max-age=900',
  ])
  new SessionCookie(jar, '', false).set(SID, IDLE_MS)
  assert.deepEqual(writes.at(-1)!.split(';'), [`${SESSION_COOKIE}=${SID}`, 'path=/', 'SameSite=Lax', 'max-age=900'])
})

test('a site cookie replaces a host-only one of an older configuration', () => {
  const jar = new Jar(new URL('https://app.example.com/'))
  new SessionCookie(jar, '', true).set('old1', IDLE_MS)
  new SessionCookie(jar, 'example.com', true).set(SID, IDLE_MS)
  assert.deepEqual(jar.ours().map((c) => [c.value, c.domain, c.hostOnly]), [[SID, 'example.com', false]])
  assert.equal(jar.read(), `${SESSION_COOKIE}=${SID}`)
})

class Mem implements KV {
  m = new Map<string, string>()
  getItem = (k: string): string | null => this.m.get(k) ?? null
  setItem = (k: string, v: string): void => void this.m.set(k, v)
  removeItem = (k: string): void => void this.m.delete(k)
  copy(): Mem {
    const c = new Mem()
    c.m = new Map(this.m)
    return c
  }
}

/** A tab of the site: its session (sessionStorage) and the browser's shared cookie jar,
 * written as client.ts does (renewCookie: cookieMs of the session). */
class Tab {
  session: Session
  cookie: SessionCookie
  constructor(
    public jar: Jar,
    public store: Mem = new Mem(),
  ) {
    this.session = new Session(store, 'backlight_p', jar.now)
    this.cookie = new SessionCookie(jar, 'example.com', true)
    this.write()
  }
  write(): void {
    this.cookie.set(this.session.id, cookieMs(this.session.state, this.jar.now))
  }
  /** User activity: the session is touched and the cookie renewed. */
  act(): void {
    this.session.touch(this.jar.now)
    this.write()
  }
  /** pagehide: the navigation's requests left already; the cookie is cleared. */
  hide(): void {
    this.session.setOpen(false)
    this.cookie.clear()
  }
  /** What a request to the backend would carry. */
  sent(): string | null {
    const c = this.jar.ours().find((x) => sends(x, 'https://app.example.com/next', this.jar.now))
    return c ? c.value : null
  }
}

test('lifecycle: a navigation carries the session, the next page resumes and renews it', () => {
  const jar = new Jar(new URL('https://app.example.com/'))
  const tab = new Tab(jar)
  assert.equal(tab.sent(), tab.session.id)
  jar.now += 60_000
  tab.act() // a click: then the navigation request leaves, with the cookie
  assert.equal(tab.sent(), tab.session.id)
  tab.hide()
  assert.equal(tab.sent(), null, 'cleared once the page is gone')
  const next = new Tab(jar, tab.store) // the next page of the tab
  assert.equal(next.session.origin, 'resumed')
  assert.equal(next.sent(), tab.session.id)
})

test('lifecycle: the cookie lives the idle window from the last activity, and no longer', () => {
  const jar = new Jar(new URL('https://app.example.com/'))
  const tab = new Tab(jar)
  const id = tab.session.id
  jar.now += IDLE_MS - 1000
  assert.equal(tab.sent(), id)
  tab.act()
  jar.now += IDLE_MS - 1000
  assert.equal(tab.sent(), id, 'renewed by the activity')
  jar.now += 1000
  assert.equal(tab.sent(), null, '15 minutes idle: gone with the session')
  tab.hide()
  const back = new Tab(jar, tab.store) // the next page after 15 minutes starts a new session
  assert.equal(back.session.origin, 'idle')
  assert.equal(back.sent(), back.session.id)
  assert.notEqual(back.session.id, id)
})

test('lifecycle: never past the 4-hour cap', () => {
  const jar = new Jar(new URL('https://app.example.com/'))
  const tab = new Tab(jar)
  const start = jar.now
  while (jar.now + 10 * 60_000 < start + MAX_MS) {
    jar.now += 10 * 60_000
    tab.act()
    assert.equal(tab.sent(), tab.session.id)
  }
  assert.ok(cookieMs(tab.session.state, jar.now) < IDLE_MS)
  jar.now = start + MAX_MS
  assert.equal(tab.sent(), null, 'expired with the session at 4 hours')
  tab.act() // past the cap: nothing is written
  assert.equal(tab.sent(), null)
})

test('lifecycle: a new tab writes its own session; the first tab takes the cookie back on a click', () => {
  const jar = new Jar(new URL('https://app.example.com/'))
  const first = new Tab(jar)
  const second = new Tab(jar) // a new tab: an empty sessionStorage, a new session
  assert.notEqual(second.session.id, first.session.id)
  assert.equal(first.sent(), second.session.id)
  first.act() // focus, click or submit in the first tab renews its cookie first
  assert.equal(first.sent(), first.session.id)
  const dup = new Tab(jar, first.store.copy()) // a duplicated tab: a new session too
  assert.equal(dup.session.origin, 'duplicate')
  assert.equal(dup.sent(), dup.session.id)
})

test('lifecycle: a closed tab leaves no cookie for the next tab\'s first request', () => {
  const jar = new Jar(new URL('https://app.example.com/'))
  const tab = new Tab(jar)
  tab.hide()
  jar.now += 60_000
  assert.equal(tab.sent(), null)
})

test('a cookie the browser does not keep is never written again', () => {
  let writes = 0
  const jar: CookieJar = { read: () => '', write: () => void writes++ }
  const c = new SessionCookie(jar, 'example.com', true)
  assert.equal(c.set(SID, IDLE_MS), false)
  assert.ok(c.dead)
  const n = writes
  assert.equal(c.set(SID, IDLE_MS), false)
  c.clear()
  assert.equal(writes, n)
})
