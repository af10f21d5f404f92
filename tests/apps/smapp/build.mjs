// Builds the source-map test app, minified, with its maps, into OUT/dist/js/app.js(.map):
//   node build.mjs esbuild OUT   esbuild, no debug id (found by release + URL)
//   node build.mjs rollup OUT    Rollup + terser with output.sourcemapDebugIds (the script
//                                ends in //# debugId=, the map has debugId), and the
//                                debug id registered at run time in _sentryDebugIds, as
//                                bundler plugins do
// The sources are copied to OUT/src first, so the maps name ../../src/….
// Packages: esbuild from sdk/browser, Rollup and its plugins from tests/compat.
import { cpSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const here = new URL('.', import.meta.url).pathname
const [bundler, out] = process.argv.slice(2)
if (!out || !['esbuild', 'rollup'].includes(bundler)) {
  console.error('usage: node build.mjs esbuild|rollup OUT')
  process.exit(2)
}
cpSync(`${here}src`, `${out}/src`, { recursive: true })
const entry = `${out}/src/main.ts`
const file = `${out}/dist/js/app.js`

if (bundler === 'esbuild') {
  const { build } = createRequire(`${here}../../../sdk/browser/package.json`)('esbuild')
  await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'iife',
    target: ['es2020'],
    outfile: file,
    logLevel: 'warning',
  })
} else {
  const compat = createRequire(`${here}../../compat/package.json`)
  const { rollup } = compat('rollup')
  const sucrase = compat('@rollup/plugin-sucrase')
  const terser = compat('@rollup/plugin-terser')
  const bundle = await rollup({
    input: entry,
    plugins: [sucrase({ transforms: ['typescript'] }), terser(), registerDebugId()],
  })
  await bundle.write({ file, format: 'iife', sourcemap: true, sourcemapDebugIds: true })
  await bundle.close()
  const map = JSON.parse(readFileSync(`${file}.map`, 'utf8'))
  if (!map.debugId || !readFileSync(file, 'utf8').includes(`//# debugId=${map.debugId}`)) {
    throw new Error('rollup wrote no debug id')
  }
}

/** Appends, after the code (no mapping moves), the run-time registration of the chunk's
 * debug id that Sentry's bundler plugins inject: _sentryDebugIds[new Error().stack] = id. */
function registerDebugId() {
  return {
    name: 'register-debug-id',
    generateBundle(_options, bundle) {
      for (const chunk of Object.values(bundle)) {
        const id = chunk.type === 'chunk' && chunk.map && chunk.map.debugId
        if (!id) continue
        const snippet =
          ';!function(){try{var g=typeof window<"u"?window:globalThis,s=new g.Error().stack;' +
          `s&&((g._sentryDebugIds=g._sentryDebugIds||{})[s]=${JSON.stringify(id)})}catch(e){}}();`
        chunk.code = chunk.code.replace(/\n?(\/\/# debugId=)/, `\n${snippet}\n$1`)
      }
    },
  }
}
