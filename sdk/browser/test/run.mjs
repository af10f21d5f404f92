// Compiles test/*.test.ts with esbuild into dist/test/ and runs them with node's test runner.
import { build } from 'esbuild'
import { spawnSync } from 'node:child_process'
import { readdirSync, rmSync } from 'node:fs'

const root = new URL('..', import.meta.url).pathname
const tests = readdirSync(`${root}test`).filter((f) => f.endsWith('.test.ts'))
rmSync(`${root}dist/test`, { recursive: true, force: true })
await build({
  entryPoints: tests.map((f) => `test/${f}`),
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: 'dist/test',
  outExtension: { '.js': '.mjs' },
  packages: 'external',
  logLevel: 'warning',
})
const files = tests.map((f) => `dist/test/${f.replace(/\.ts$/, '.mjs')}`)
const r = spawnSync(process.execPath, ['--test', ...files], { cwd: root, stdio: 'inherit' })
process.exit(r.status ?? 1)
