import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BODY_KEYS, capBytes, REDACTED, redactBody, redactHeaders } from '../src/redact'

const keys = new Set(BODY_KEYS)

test('default sensitive headers are redacted, case-insensitively', () => {
  const out = redactHeaders(
    [
      ['Authorization', 'Bearer abc'],
      ['Cookie', 'sid=1'],
      ['Set-Cookie', 'sid=2'],
      ['Proxy-Authorization', 'x'],
      ['Token', 't'],
      ['X-API-Key', 'k'],
      ['x-csrf-token', 'c'],
      ['X-XSRF-TOKEN', 'c'],
      ['X-Forwarded-For', '1.2.3.4'],
      ['X-Real-IP', '1.2.3.4'],
      ['Content-Type', 'application/json'],
      ['Accept', '*/*'],
    ],
    new Set(),
  )
  for (const [k, v] of Object.entries(out)) {
    if (k === 'content-type' || k === 'accept') assert.notEqual(v, REDACTED, k)
    else assert.equal(v, REDACTED, k)
  }
  assert.equal(out['content-type'], 'application/json')
})

test('header names containing secret, password or token are redacted; extra names too', () => {
  const out = redactHeaders(
    [
      ['X-Client-Secret', 's'],
      ['X-Password-Hint', 'p'],
      ['X-Refresh-Token-Id', 't'],
      ['X-Tenant', 'acme'],
      ['X-Session', 'abc'],
    ],
    new Set(['x-session']),
  )
  assert.deepEqual(out, {
    'x-client-secret': REDACTED,
    'x-password-hint': REDACTED,
    'x-refresh-token-id': REDACTED,
    'x-tenant': 'acme',
    'x-session': REDACTED,
  })
})

test('body keys are redacted at any depth, in objects and arrays', () => {
  const body = JSON.stringify({
    user: { email: 'a@b.c', Password: 'hunter2', profile: { ssn: '123', cards: [{ card_number: '4111', cvv: '1', name: 'A' }] } },
    items: [{ token: 't', id: 1 }],
    api_key: 'k',
    access_token: 'at',
    refresh_token: 'rt',
    keep: 'yes',
  })
  const out = JSON.parse(redactBody(body, keys)) as Record<string, any>
  assert.equal(out.user.email, 'a@b.c')
  assert.equal(out.user.Password, REDACTED)
  assert.equal(out.user.profile.ssn, REDACTED)
  assert.equal(out.user.profile.cards[0].card_number, REDACTED)
  assert.equal(out.user.profile.cards[0].cvv, REDACTED)
  assert.equal(out.user.profile.cards[0].name, 'A')
  assert.equal(out.items[0].token, REDACTED)
  assert.equal(out.items[0].id, 1)
  assert.equal(out.api_key, REDACTED)
  assert.equal(out.access_token, REDACTED)
  assert.equal(out.refresh_token, REDACTED)
  assert.equal(out.keep, 'yes')
})

test('an object value under a redacted key is replaced whole', () => {
  const out = JSON.parse(redactBody('{"secret":{"a":1},"authorization":["x"]}', keys)) as Record<string, unknown>
  assert.deepEqual(out, { secret: REDACTED, authorization: REDACTED })
})

test('user-given body keys are redacted too', () => {
  const out = JSON.parse(redactBody('{"pin":"1234","n":{"PIN":5}}', new Set([...keys, 'pin']))) as Record<string, any>
  assert.equal(out.pin, REDACTED)
  assert.equal(out.n.PIN, REDACTED)
})

test('truncated JSON is still redacted textually, including a cut value', () => {
  const out = redactBody('{"a":{"password" : "hunter2","b":[{"token":12345}],"secret":"abc', keys)
  assert.ok(!out.includes('hunter2'), out)
  assert.ok(!out.includes('12345'), out)
  assert.ok(!out.includes('abc'), out)
  assert.ok(out.includes(`"password" : "${REDACTED}"`), out)
})

test('form-encoded bodies are redacted by key', () => {
  const out = redactBody('user=bob&password=hunter2&Token=abc&x=1', keys)
  assert.equal(out, `user=bob&password=${REDACTED}&Token=${REDACTED}&x=1`)
})

test('plain text without keys is left alone', () => {
  assert.equal(redactBody('hello world', keys), 'hello world')
})

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
