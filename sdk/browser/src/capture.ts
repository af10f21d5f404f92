/** Console calls and uncaught errors. */
import { clip, MAX_ARG, render } from './format'
import { parseStack } from './stack'
import type { ConsoleEntry, ConsoleLevel, ErrorEntry, ErrorSource, Log } from './types'

export const LEVELS: ConsoleLevel[] = ['log', 'info', 'warn', 'error', 'debug']
const MAX_MESSAGE = 64 * 1024

/** An error entry from any thrown value. */
export function errorEntry(value: unknown, source: ErrorSource, payload?: unknown): ErrorEntry {
  const err = value instanceof Error ? value : null
  const raw = err?.stack || ''
  return {
    ts: Date.now(),
    type: err ? err.name || 'Error' : source === 'unhandledrejection' ? 'UnhandledRejection' : 'Error',
    message: clip(err ? err.message : render(value), MAX_MESSAGE),
    source,
    url: location.href,
    stack: parseStack(raw),
    raw_stack: clip(raw, MAX_MESSAGE),
    ...(payload === undefined ? {} : { payload }),
  }
}

export interface CaptureHooks {
  active(): boolean
  console(e: ConsoleEntry): void
  error(e: ErrorEntry): void
  log: Log
}

/** Wraps console methods; the original is always called with the same arguments. */
export function patchConsole(con: Console, k: CaptureHooks): void {
  let inside = false
  for (const level of LEVELS) {
    const orig = con[level]
    if (typeof orig !== 'function') continue
    con[level] = function (this: unknown, ...args: unknown[]) {
      if (!inside && k.active()) {
        inside = true
        try {
          const parts = args.map((a) => clip(render(a), MAX_ARG))
          k.console({ ts: Date.now(), level, message: clip(parts.join(' '), MAX_MESSAGE), args: parts })
          const err = level === 'error' ? args.find((a) => a instanceof Error) : undefined
          if (err) k.error(errorEntry(err, 'console.error'))
        } catch (e) {
          k.log(e)
        } finally {
          inside = false
        }
      }
      return orig.apply(this, args)
    }
  }
}

/** window `error` (not resource load errors) and `unhandledrejection` listeners. */
export function listenErrors(w: Window, k: CaptureHooks): void {
  w.addEventListener('error', (ev: Event) => {
    try {
      if (!(ev instanceof ErrorEvent) || !k.active()) return
      const e = errorEntry(ev.error ?? ev.message, 'onerror')
      if (!(ev.error instanceof Error)) {
        e.message = ev.message
        if (ev.filename) e.stack = [{ file: ev.filename, function: '', line: ev.lineno, column: ev.colno }]
      }
      k.error(e)
    } catch (err) {
      k.log(err)
    }
  })
  w.addEventListener('unhandledrejection', (ev: PromiseRejectionEvent) => {
    try {
      if (k.active()) k.error(errorEntry(ev.reason, 'unhandledrejection'))
    } catch (err) {
      k.log(err)
    }
  })
}
