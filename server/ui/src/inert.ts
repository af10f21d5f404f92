// Recorded pages are untrusted input. The UI's Content-Security-Policy (inherited by the
// replayer's about:blank iframe) refuses every load from another origin, but Chromium still
// opens a TCP connection to the host of a recorded <iframe src> before refusing to frame it:
// enough to tell that host the viewer's address. So frame-like elements lose their URL
// attributes before rrweb rebuilds them (rrweb's own recorder never keeps an iframe's src
// either: it records the frame's document instead).

const FRAME_TAGS = new Set(['iframe', 'frame', 'object', 'embed', 'portal', 'fencedframe'])
const URL_ATTRIBUTES = ['src', 'srcdoc', 'data']
const FULL_SNAPSHOT = 2
const INCREMENTAL = 3
const MUTATION = 0

type Attributes = Record<string, unknown>
type SerializedNode = {
  id?: number
  tagName?: string
  attributes?: Attributes
  childNodes?: unknown[]
}
type RrwebEvent = { type: number; data?: unknown }

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

function strip(attributes: unknown): void {
  if (!isObject(attributes)) return
  for (const name of URL_ATTRIBUTES) delete attributes[name]
}

/** Strips frame URLs in a serialized subtree; notes the ids of frame-like elements. */
function walk(root: unknown, frames: Set<number>): void {
  const stack: unknown[] = [root]
  while (stack.length) {
    const node = stack.pop()
    if (!isObject(node)) continue
    const n = node as SerializedNode
    if (typeof n.tagName === 'string' && FRAME_TAGS.has(n.tagName.toLowerCase())) {
      strip(n.attributes)
      if (typeof n.id === 'number') frames.add(n.id)
    }
    if (Array.isArray(n.childNodes)) stack.push(...n.childNodes)
  }
}

/** Makes frame-like elements of the recorded page inert, in place; returns ``events``. */
export function inertFrames<T extends RrwebEvent>(events: T[]): T[] {
  let frames = new Set<number>()
  for (const event of events) {
    const data = event.data
    if (!isObject(data)) continue
    if (event.type === FULL_SNAPSHOT) {
      frames = new Set<number>()
      walk(data.node, frames)
    } else if (event.type === INCREMENTAL && data.source === MUTATION) {
      if (Array.isArray(data.adds)) {
        for (const add of data.adds) if (isObject(add)) walk(add.node, frames)
      }
      if (Array.isArray(data.attributes)) {
        for (const change of data.attributes) {
          if (isObject(change) && typeof change.id === 'number' && frames.has(change.id)) {
            strip(change.attributes)
          }
        }
      }
    }
  }
  return events
}
