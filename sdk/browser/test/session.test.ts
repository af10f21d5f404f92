import assert from 'node:assert/strict'
import { test } from 'node:test'
import { IDLE_MS, type KV, MAX_MS, Session } from '../src/session'

class Mem implements KV {
  m = new Map<string, string>()
  getItem(k: string): string | null {
    return this.m.get(k) ?? null
  }
  setItem(k: string, v: string): void {
    this.m.set(k, v)
  }
  removeItem(k: string): void {
    this.m.delete(k)
  }
  /** What a duplicated tab gets: a copy of this tab's sessionStorage. */
  copy(): Mem {
    const c = new Mem()
    c.m = new Map(this.m)
    return c
  }
}

const T0 = 1_700_000_000_000
const KEY = 'backlight_p1'

/** A page load at `now` that then goes away (pagehide) at `hideAt`. */
function visit(store: KV, now: number, hideAt = now): Session {
  const s = new Session(store, KEY, now)
  s.touch(hideAt)
  s.setOpen(false)
  return s
}

test('a first visit starts a session with a 28-char id and seq 0', () => {
  const s = new Session(new Mem(), KEY, T0)
  assert.equal(s.origin, 'new')
  assert.match(s.id, /^[A-Za-z0-9]{28}$/)
  assert.equal(s.nextSeq(), 0)
  assert.equal(s.nextSeq(), 1)
})

test('a reload within 15 minutes resumes the session and its sequence', () => {
  const store = new Mem()
  const a = new Session(store, KEY, T0)
  a.nextSeq()
  a.nextSeq()
  a.touch(T0 + 60_000)
  a.setOpen(false)
  const b = new Session(store, KEY, T0 + 60_000 + IDLE_MS - 1)
  assert.equal(b.origin, 'resumed')
  assert.equal(b.id, a.id)
  assert.equal(b.nextSeq(), 2)
})

test('after 15 minutes without activity a new session starts', () => {
  const store = new Mem()
  const a = visit(store, T0)
  const b = new Session(store, KEY, T0 + IDLE_MS)
  assert.equal(b.origin, 'idle')
  assert.notEqual(b.id, a.id)
  assert.equal(b.nextSeq(), 0)
})

test('activity keeps a session alive, but never past 4 hours', () => {
  const store = new Mem()
  const first = visit(store, T0)
  let now = T0
  // a page load every 10 minutes: each resumes
  while (now + 10 * 60_000 < T0 + MAX_MS) {
    now += 10 * 60_000
    const s = visit(store, now)
    assert.equal(s.id, first.id, `resumed at +${(now - T0) / 60_000} min`)
  }
  const late = new Session(store, KEY, T0 + MAX_MS)
  assert.equal(late.origin, 'expired')
  assert.notEqual(late.id, first.id)
})

test('a duplicated tab gets its own session; the original keeps its own', () => {
  const store = new Mem()
  const original = new Session(store, KEY, T0) // still open: no pagehide
  original.nextSeq()
  const dup = new Session(store.copy(), KEY, T0 + 1000)
  assert.equal(dup.origin, 'duplicate')
  assert.notEqual(dup.id, original.id)
  assert.notEqual(dup.state.tab, original.state.tab)
  assert.equal(dup.nextSeq(), 0)
  // the original tab reloads: it still resumes its own session
  original.setOpen(false)
  const reloaded = new Session(store, KEY, T0 + 2000)
  assert.equal(reloaded.id, original.id)
  assert.equal(reloaded.nextSeq(), 1)
})

test('back-forward cache: pageshow marks the page open again', () => {
  const store = new Mem()
  const s = new Session(store, KEY, T0)
  s.setOpen(false)
  s.setOpen(true)
  assert.equal(new Session(store.copy(), KEY, T0 + 1).origin, 'duplicate')
})

test('renew keeps the tab id and restarts the sequence', () => {
  const s = new Session(new Mem(), KEY, T0)
  s.nextSeq()
  const { id, tab } = s.state
  s.renew(T0 + IDLE_MS)
  assert.notEqual(s.id, id)
  assert.equal(s.state.tab, tab)
  assert.equal(s.nextSeq(), 0)
})

test('storage that throws or holds garbage does not break the session', () => {
  const broken: KV = {
    getItem: () => {
      throw new Error('denied')
    },
    setItem: () => {
      throw new Error('quota')
    },
    removeItem: () => undefined,
  }
  const s = new Session(broken, KEY, T0)
  assert.equal(s.origin, 'new')
  assert.equal(s.nextSeq(), 0)
  const junk = new Mem()
  junk.setItem(KEY, '{not json')
  assert.equal(new Session(junk, KEY, T0).origin, 'new')
  const noSession = new Session(null, KEY, T0)
  assert.equal(noSession.nextSeq(), 0)
})
