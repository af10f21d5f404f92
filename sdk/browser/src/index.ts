/**
 * Backlight browser SDK: `H`, with highlight.run's API, so that switching is a change
 * of script tag. No call ever throws into the page.
 */
import { Client } from './client'
import type { Options } from './types'

export type * from './types'
export { VERSION } from './version'

// The origin that served this script (the IIFE build); module builds have none.
const scriptOrigin = ((): string | null => {
  try {
    const src = (document.currentScript as HTMLScriptElement | null)?.src
    return src ? new URL(src).origin : null
  } catch {
    return null
  }
})()

let client: Client | null = null
const ready: (() => void)[] = []
let warn: (...a: unknown[]) => void = () => undefined

function guard<A extends unknown[], R>(f: (...a: A) => R, fallback: R): (...a: A) => R {
  return (...a: A): R => {
    try {
      return f(...a)
    } catch (e) {
      warn('internal error', e)
      return fallback
    }
  }
}

/** Calls `f` with the client, or logs that H.init has not run. */
const withClient = (name: string, f: (c: Client) => void) =>
  guard((): void => {
    if (client) f(client)
    else warn(`H.${name} before H.init: ignored`)
  }, undefined)

export const H = {
  init: guard((projectId: string | number, options: Options = {}): void => {
    if (typeof window === 'undefined') return
    if (client) return warn('H.init called again: ignored')
    const post = window.fetch.bind(window)
    const c = new Client(String(projectId), options, scriptOrigin ?? location.origin, post)
    warn = c.log
    client = c
    c.install()
    for (const fn of ready.splice(0)) setTimeout(fn, 0)
  }, undefined),
  identify: (identifier: string, metadata?: Record<string, unknown>): void =>
    withClient('identify', (c) => c.identify(identifier, metadata))(),
  track: (event: string, properties?: Record<string, unknown>): void =>
    withClient('track', (c) => c.track(event, properties))(),
  consumeError: (error: unknown, message?: string, payload?: unknown): void =>
    withClient('consumeError', (c) => c.consumeError(error, message, payload))(),
  getSessionId: guard((): string | undefined => client?.session.id, undefined),
  getSessionURL: guard((): string | undefined => (client ? client.sessionUrl : undefined), undefined),
  stop: (): void => withClient('stop', (c) => c.stop())(),
  start: (): void => withClient('start', (c) => c.start())(),
  // highlight.run compatibility
  getRecordingState: guard(
    (): 'Recording' | 'NotRecording' => (client?.recording ? 'Recording' : 'NotRecording'),
    'NotRecording',
  ),
  /** Calls `fn` (asynchronously) once H.init has run. */
  onHighlightReady: (fn: () => void): void => {
    if (typeof fn !== 'function') return
    if (client) setTimeout(fn, 0)
    else ready.push(fn)
  },
  getSessionDetails: (): Promise<{ url: string; urlWithTimestamp: string; sessionSecureID: string }> =>
    new Promise((resolve, reject) => {
      try {
        if (!client) return reject(new Error('H.init has not run'))
        const url = client.sessionUrl
        const ts = Math.max(0, (Date.now() - client.session.state.start) / 1000)
        resolve({ url, urlWithTimestamp: `${url}?ts=${ts.toFixed(0)}`, sessionSecureID: client.session.id })
      } catch (e) {
        reject(e as Error)
      }
    }),
}

export default H
