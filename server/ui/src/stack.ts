// A stack as the UI shows it: the same markup and classes as ui/templates/_stack.html (the
// error group page and the request view), so that both look alike. App frames show the
// original file:line:column and function, their source lines with the frame's line marked,
// and the minified frame under "minified"; each run of library frames (node_modules, runtime)
// is collapsed into "N library frames". Files show as the server says (`path`: relative to
// the project, ui/stacks.py). Text only (textContent): frames are stored input.
import { el } from './format'
import type { Frame, RawFrame } from './types'

type Run = { library: boolean; frames: Frame[] }

/** file:line:column; a frame's file as the server shows it (``path``, ui/stacks.py). */
export function where(f: Frame | RawFrame): string {
  const file = 'path' in f && typeof f.path === 'string' ? f.path : (f.file ?? '')
  return `${file}${f.line ? `:${f.line}` : ''}${f.column ? `:${f.column}` : ''}`
}

/** Consecutive library frames as one run; each app frame a run of its own. */
export function runs(frames: readonly Frame[]): Run[] {
  const out: Run[] = []
  for (const f of frames) {
    if (typeof f !== 'object' || f === null) continue
    const library = !f.in_app
    const last = out[out.length - 1]
    if (library && last?.library) last.frames.push(f)
    else out.push({ library, frames: [f] })
  }
  return out
}

function context(f: Frame): HTMLElement | null {
  const ctx = f.context
  if (ctx && Array.isArray(ctx.lines) && ctx.lines.length) {
    const pre = el('pre', 'context')
    ctx.lines.forEach((text, i) => {
      const n = ctx.start + i
      const line = el('span', n === f.line ? 'ln at' : 'ln')
      line.append(el('span', 'no', String(n)), String(text))
      pre.append(line)
    })
    return pre
  }
  return f.code ? el('code', 'code', f.code) : null
}

function frameItem(f: Frame, library: boolean): HTMLLIElement {
  const item = el('li', `${library ? 'library' : 'in-app'}${f.raw ? ' mapped' : ''}`)
  if (library) item.append(el('span', 'tag', 'library'))
  const file = el('span', 'file', where(f))
  if (f.file && typeof f.path === 'string' && f.path !== f.file) file.title = f.file
  item.append(el('span', 'fn', f.function || '?'), ' ', file)
  const lines = context(f)
  if (lines) item.append(lines)
  if (f.raw) {
    const raw = el('details', 'raw-frame')
    raw.append(el('summary', '', 'minified'), el('code', '', `${f.raw.function || '?'} ${where(f.raw)}`))
    item.append(raw)
  }
  return item
}

export function renderStack(frames: readonly Frame[] | null): HTMLOListElement {
  const list = el('ol', 'stack')
  for (const run of runs(Array.isArray(frames) ? frames : [])) {
    const [first] = run.frames
    if (!run.library && first) {
      list.append(frameItem(first, false))
      continue
    }
    const n = run.frames.length
    const details = el('details', 'lib-frames')
    const inner = el('ol', 'stack lib-list')
    for (const f of run.frames) inner.append(frameItem(f, true))
    details.append(el('summary', '', `${n} library frame${n === 1 ? '' : 's'}`), inner)
    const item = el('li', 'lib-run')
    item.append(details)
    list.append(item)
  }
  return list
}
