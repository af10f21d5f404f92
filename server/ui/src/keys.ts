// The player's keys, on the whole session page: Space plays or pauses, ← and → seek 5 s,
// N and P go to the next and the previous error, F toggles fullscreen (the Fullscreen API
// on the player's column: replay, controls and timeline). Keys typed into a field, and
// Space or Enter on a control (which activate it), are left alone.

export type PlayerKeys = {
  toggle: () => void
  seekBy: (ms: number) => void
  nextError: () => void
  previousError: () => void
  fullscreen: () => void
}

export const SEEK_STEP_MS = 5000

const TYPING = new Set(['INPUT', 'SELECT', 'TEXTAREA'])
const ACTIVATES = new Set(['BUTTON', 'A', 'SUMMARY'])

export function bindKeys(actions: PlayerKeys): void {
  document.addEventListener('keydown', (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return
    const target = event.target instanceof HTMLElement ? event.target : null
    if (target && (TYPING.has(target.tagName) || target.isContentEditable)) return
    const listbox = target?.getAttribute('role') === 'listbox'
    const run: Record<string, (() => void) | undefined> = {
      ' ': target && (ACTIVATES.has(target.tagName) || listbox) ? undefined : actions.toggle,
      ArrowLeft: () => actions.seekBy(-SEEK_STEP_MS),
      ArrowRight: () => actions.seekBy(SEEK_STEP_MS),
      n: actions.nextError,
      N: actions.nextError,
      p: actions.previousError,
      P: actions.previousError,
      f: actions.fullscreen,
      F: actions.fullscreen,
    }
    const action = run[event.key]
    if (!action) return
    event.preventDefault()
    action()
  })
}

/** Fullscreen on ``element``, or back from it. */
export function toggleFullscreen(element: HTMLElement): void {
  if (document.fullscreenElement) void document.exitFullscreen().catch(() => {})
  else void element.requestFullscreen().catch((err: unknown) => console.warn('no fullscreen', err))
}
