/** rrweb recording with Backlight's privacy settings. */
import { record } from '@rrweb/record'
import type { Log, PrivacySetting } from './types'

export interface ReplayEvent {
  type: number
  data: unknown
  timestamp: number
}

/** After this long hidden, a tab that comes back starts with a new full snapshot. */
export const LONG_HIDDEN_MS = 60 * 1000

/** Starts recording; returns the stop function (a no-op if rrweb could not start). */
export function startReplay(privacy: PrivacySetting, emit: (e: ReplayEvent) => void, log: Log): () => void {
  const stop = record({
    emit: (e) => emit(e as ReplayEvent),
    maskAllInputs: privacy !== 'none',
    maskInputOptions: { password: true },
    maskTextSelector: privacy === 'strict' ? '*' : undefined,
    blockClass: /^(rr|highlight|backlight)-block$/,
    maskTextClass: /^(rr|highlight|backlight)-mask$/,
    slimDOMOptions: { script: true, comment: true, headFavicon: true, headMetaVerification: true },
    sampling: { scroll: 150, input: 'last' },
    errorHandler: (e: unknown) => {
      log('rrweb', e)
      return true
    },
  })
  return stop ?? ((): void => undefined)
}

export const fullSnapshot = (): void => record.takeFullSnapshot(true)

export const addCustom = (tag: string, payload: unknown): void => record.addCustomEvent(tag, payload)

/**
 * Calls `snap` when the document becomes visible after being hidden for at least
 * `after` ms. Returns the listener to attach to `visibilitychange`.
 */
export function hiddenWatcher(
  doc: { visibilityState: string },
  now: () => number,
  snap: () => void,
  after = LONG_HIDDEN_MS,
): () => void {
  let hiddenAt = doc.visibilityState === 'hidden' ? now() : 0
  return () => {
    if (doc.visibilityState === 'hidden') {
      hiddenAt = now()
    } else if (hiddenAt) {
      if (now() - hiddenAt >= after) snap()
      hiddenAt = 0
    }
  }
}

/** rrweb events that mean the user did something: moves, clicks, scrolls, input, touch. */
export function isUserActivity(e: ReplayEvent): boolean {
  const source = (e.data as { source?: number } | null)?.source
  return e.type === 3 && (source === 1 || source === 2 || source === 3 || source === 5 || source === 6)
}
