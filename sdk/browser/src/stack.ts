/** Stack traces of V8 (`at fn (file:1:2)`) and Gecko/WebKit (`fn@file:1:2`) into frames. */
import type { StackFrame } from './types'

const V8 = /^\s*at (?:(.*?) \()?(.*?):(\d+):(\d+)\)?\s*$/
const GECKO = /^\s*(.*?)@(.*?):(\d+):(\d+)\s*$/

export function parseStack(stack: string | undefined, max = 50): StackFrame[] {
  const frames: StackFrame[] = []
  for (const line of (stack || '').split('\n')) {
    const m = V8.exec(line) || GECKO.exec(line)
    if (!m) continue
    frames.push({
      file: m[2]!,
      function: (m[1] || '').replace(/^async /, ''),
      line: Number(m[3]),
      column: Number(m[4]),
    })
    if (frames.length >= max) break
  }
  return frames
}
