// Builds dist/backlight.js (IIFE, window.H) and dist/backlight.esm.js with esbuild.
// Usage: node build.mjs
import { build } from 'esbuild'
import { mkdirSync, readFileSync, statSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

const root = new URL('.', import.meta.url).pathname
const common = {
  bundle: true,
  minify: true,
  sourcemap: true,
  target: ['es2020'],
  legalComments: 'none',
  absWorkingDir: root,
  logLevel: 'warning',
}

mkdirSync(`${root}dist`, { recursive: true })
await Promise.all([
  build({ ...common, entryPoints: ['src/iife.ts'], format: 'iife', outfile: 'dist/backlight.js' }),
  build({ ...common, entryPoints: ['src/index.ts'], format: 'esm', outfile: 'dist/backlight.esm.js' }),
])

for (const f of ['backlight.js', 'backlight.esm.js']) {
  const path = `${root}dist/${f}`
  const gz = gzipSync(readFileSync(path), { level: 9 }).length
  console.log(`dist/${f}: ${statSync(path).size} bytes, ${gz} gzip`)
}
