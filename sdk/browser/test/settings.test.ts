import assert from 'node:assert/strict'
import { test } from 'node:test'
import { settings } from '../src/client'

test('defaults: own origin traced, requests recorded without bodies, inputs masked', () => {
  const s = settings({}, 'https://backlight.example.com')
  assert.equal(s.backendUrl, 'https://backlight.example.com')
  assert.equal(s.rules, 'self')
  assert.equal(s.net.record, true)
  assert.equal(s.net.bodies, false)
  assert.equal(s.net.limit, 65536)
  assert.equal(s.net.traceparent, true)
  assert.equal(s.privacy, 'default')
  assert.equal(s.replay, true)
  assert.equal(s.console, true)
  assert.equal(s.environment, 'production')
  assert.equal(s.debug, false)
  assert.equal(s.net.bodyKeys.size, 0, 'only extra keys: the built-in rule is in redact.ts')
})

test('options are normalised', () => {
  const s = settings(
    {
      backendUrl: 'https://b.example.com/base//',
      tracingOrigins: true,
      networkRecording: {
        recordHeadersAndBody: true,
        bodySizeLimit: -5,
        networkHeadersToRedact: ['X-Session'],
        networkBodyKeysToRedact: ['PIN'],
        urlBlocklist: ['/auth'],
      },
      enableTraceparent: false,
      privacySetting: 'none',
      serviceName: 'shop',
      version: '1.2.3',
      environment: 'staging',
      disableSessionRecording: true,
      disableConsoleRecording: true,
      debug: true,
    },
    'https://default.example.com',
  )
  assert.equal(s.backendUrl, 'https://b.example.com/base')
  assert.equal(s.rules, true)
  assert.equal(s.net.bodies, true)
  assert.equal(s.net.limit, 65536, 'a non-positive limit falls back to the default')
  assert.ok(s.net.headersToRedact.has('x-session'))
  assert.ok(s.net.bodyKeys.has('pin'))
  assert.deepEqual(s.net.blocklist, ['/auth'])
  assert.equal(s.net.traceparent, false)
  assert.equal(s.privacy, 'none')
  assert.equal(s.service, 'shop')
  assert.equal(s.version, '1.2.3')
  assert.equal(s.environment, 'staging')
  assert.equal(s.replay, false)
  assert.equal(s.console, false)
  assert.equal(s.debug, true)
})

test("highlight.run's older option names still work", () => {
  const s = settings({ enableStrictPrivacy: true, disableNetworkRecording: true }, 'https://b')
  assert.equal(s.privacy, 'strict')
  assert.equal(s.net.record, false)
  assert.equal(settings({ networkRecording: false }, 'https://b').net.record, false)
  assert.equal(settings({ tracingOrigins: false }, 'https://b').rules, false)
})

test('the app version: version, else appVersion, else serviceVersion; numbers become strings', () => {
  const b = 'https://b'
  assert.equal(settings({}, b).version, undefined)
  assert.equal(settings({ appVersion: 'abc123' }, b).version, 'abc123')
  assert.equal(settings({ serviceVersion: '2.0.1' }, b).version, '2.0.1')
  assert.equal(settings({ version: '1.0', appVersion: 'x', serviceVersion: 'y' }, b).version, '1.0')
  assert.equal(settings({ version: '', appVersion: 'x' }, b).version, 'x')
  const loose = (o: Record<string, unknown>) => settings(o as Parameters<typeof settings>[0], b).version
  assert.equal(loose({ version: 42 }), '42')
  assert.equal(loose({ version: { a: 1 }, serviceVersion: NaN }), undefined, 'other types are ignored')
  assert.equal(loose({ version: 'v'.repeat(600) })!.length, 512, 'capped as the server caps it')
})
