// Builds the web UI assets into backlight_server/ui/static/build with esbuild:
// app.js + app.css (every page), session.js + session.css (the session page: rrweb replayer),
// alerts.js (the Alerts page and the rule form), logs.js + logs.css (the Logs page).
// Usage: node build.mjs   (run by scripts/setup.sh; the output is not committed)
import { build } from 'esbuild'
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

const root = new URL('.', import.meta.url).pathname
const outdir = `${root}../src/backlight_server/ui/static/build`

rmSync(outdir, { recursive: true, force: true })
mkdirSync(outdir, { recursive: true })
await build({
  entryPoints: {
    app: 'src/app.ts',
    session: 'src/session.ts',
    alerts: 'src/alerts.ts',
    logs: 'src/logs.ts',
  },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['es2020'],
  legalComments: 'none',
  absWorkingDir: root,
  outdir,
  logLevel: 'warning',
})

for (const f of readdirSync(outdir).filter((f) => !f.endsWith('.map')).sort()) {
  const path = `${outdir}/${f}`
  const gz = gzipSync(readFileSync(path), { level: 9 }).length
  console.log(`${f}: ${statSync(path).size} bytes, ${gz} gzip`)
}
