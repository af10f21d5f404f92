// Builds the web UI assets into backlight_server/ui/static/build with esbuild:
// app.js + app.css (every page), session.js + session.css (the session page: rrweb replayer),
// alerts.js (the Alerts page and the rule form), logs.js + logs.css (the Logs page).
// Files are named by their content hash (app-3FQ2ZK7A.js), so the server can let browsers
// cache them for a year; manifest.json maps each logical name to its file
// ({"app.js": "app-3FQ2ZK7A.js", ...}) and is what the server reads (ui/assets.py).
// Every file is also written precompressed, as .gz (gzip -9) and .br (brotli, quality 11).
// Usage: node build.mjs   (run by scripts/setup.sh; the output is not committed)
import { build } from 'esbuild'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

const root = new URL('.', import.meta.url).pathname
const outdir = `${root}../src/backlight_server/ui/static/build`

rmSync(outdir, { recursive: true, force: true })
mkdirSync(outdir, { recursive: true })
const result = await build({
  entryPoints: {
    app: 'src/app.ts',
    session: 'src/session.ts',
    alerts: 'src/alerts.ts',
    logs: 'src/logs.ts',
  },
  entryNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['es2020'],
  legalComments: 'none',
  absWorkingDir: root,
  outdir,
  metafile: true,
  logLevel: 'warning',
})

// logical name → hashed file: "session-AB12CD34.css" is "session.css"
const manifest = {}
for (const out of Object.keys(result.metafile.outputs)) {
  const file = basename(out)
  if (file.endsWith('.map')) continue
  const logical = file.replace(/-[A-Z0-9]{8}(\.[a-z]+)$/, '$1')
  if (logical === file) throw new Error(`no content hash in ${file}`)
  manifest[logical] = file
}

for (const out of Object.keys(result.metafile.outputs).sort()) {
  const file = basename(out)
  const path = `${outdir}/${file}`
  const bytes = readFileSync(path)
  const gz = gzipSync(bytes, { level: 9 })
  const br = brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  })
  writeFileSync(`${path}.gz`, gz)
  writeFileSync(`${path}.br`, br)
  if (!file.endsWith('.map')) {
    console.log(`${file}: ${bytes.length} bytes, ${gz.length} gzip, ${br.length} brotli`)
  }
}
writeFileSync(`${outdir}/manifest.json`, JSON.stringify(manifest, null, 2) + '\n')
