/**
 * Debug ids of the page's scripts, for source maps (docs/sourcemaps.md#debug-ids).
 *
 * Bundler plugins that inject debug ids (Sentry's for esbuild, Rollup, webpack and Vite;
 * `sentry-cli sourcemaps inject`) also register them at run time: each script, at its
 * top level, stores `registry[new Error().stack] = "<debug id>"` in a global object,
 * `_sentryDebugIds`, or the neutral `_debugIds`. The last frame of that stack names the
 * script's URL. The registry is read only when an error is sent: each stack key is
 * parsed once, and the URL → id map is rebuilt only when a registry's size changed.
 */
import { parseStack } from './stack'
import type { StackFrame } from './types'

/** Global registries, read in this order: a later one wins for the same script. */
export const REGISTRIES = ['_sentryDebugIds', '_debugIds'] as const
/** At most this many ids per error (the server accepts 64). */
export const MAX_IDS = 32
/** Script URLs longer than this are not sent (uploads name at most 2,048 characters). */
export const MAX_URL = 2048
/** Registry keys read per registry; a page registers one per script. */
export const MAX_KEYS = 1000
/** Longer registry keys are skipped (a top-level stack is a line or two). */
export const MAX_KEY = 16 * 1024
/** A debug id: a UUID, with or without dashes (the server's rule). */
const DEBUG_ID = /^[0-9a-fA-F-]{32,36}$/

type Registry = Record<string, unknown>

export class DebugIds {
  private scriptOf = new Map<string, string | null>() // stack key -> script URL
  private sizes = ''
  private byUrl = new Map<string, string>()

  constructor(
    private scope: () => Record<string, unknown> = () => globalThis as unknown as Record<string, unknown>,
    private parse: (stack: string) => StackFrame[] = parseStack,
  ) {}

  /** Script URL → debug id, from every registry. */
  map(): Map<string, string> {
    const g = this.scope()
    const regs = REGISTRIES.map((name): Registry | null => {
      const r = g[name]
      return r !== null && typeof r === 'object' ? (r as Registry) : null
    })
    const keys = regs.map((r) => (r ? Object.keys(r) : []))
    const sizes = keys.map((k) => k.length).join(',')
    if (sizes === this.sizes) return this.byUrl
    const byUrl = new Map<string, string>()
    const scriptOf = new Map<string, string | null>()
    regs.forEach((r, i) => {
      if (!r) return
      for (const key of keys[i]!.slice(0, MAX_KEYS)) {
        const id = r[key]
        if (typeof id !== 'string' || !DEBUG_ID.test(id) || key.length > MAX_KEY) continue
        const url = this.script(key)
        scriptOf.set(key, url)
        if (url !== null) byUrl.set(url, id.toLowerCase())
      }
    })
    this.scriptOf = scriptOf // keys no longer registered are forgotten
    this.sizes = sizes
    this.byUrl = byUrl
    return byUrl
  }

  /** `{script URL: debug id}` for the scripts that `frames` name, or undefined. */
  forFrames(frames: StackFrame[]): Record<string, string> | undefined {
    if (!frames.length) return undefined
    const known = this.map()
    if (!known.size) return undefined
    const out: Record<string, string> = {}
    let n = 0
    for (const f of frames) {
      const id = known.get(f.file)
      if (id === undefined || f.file.length > MAX_URL || f.file in out) continue
      out[f.file] = id
      if (++n >= MAX_IDS) break
    }
    return n ? out : undefined
  }

  /** The script a registry key (a top-level `Error().stack`) names: its last frame's file. */
  private script(key: string): string | null {
    let url = this.scriptOf.get(key)
    if (url === undefined) {
      const frames = this.parse(key)
      url = null
      for (let i = frames.length - 1; i >= 0 && url === null; i--) {
        const file = frames[i]!.file
        if (file && file.length <= MAX_URL) url = file
      }
      this.scriptOf.set(key, url)
    }
    return url
  }
}

/** The page's registries. */
export const pageDebugIds = new DebugIds()
