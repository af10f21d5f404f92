// The app's entry, using the package's default export; under moduleResolution node16 this
// CommonJS package resolves the `require` types (index.d.cts).
import H, { VERSION } from '@backlight/browser'
import type { Options } from '@backlight/browser'

const params = new URLSearchParams(location.search)

const options: Options = {
  backendUrl: params.get('backend') ?? undefined,
  networkRecording: false,
  privacySetting: 'strict',
  serviceName: 'esbuild-consumer',
  version: params.get('release') ?? undefined,
}
H.init(params.get('project') ?? '1', options)
H.track('consumer-ready', { bundler: 'esbuild', sdk: VERSION })
H.onHighlightReady(() => {
  void H.getSessionDetails().then((details) => {
    const app = document.getElementById('app')
    if (app) app.textContent = `Backlight ${VERSION}: ${details.url}`
  })
})
document.body.dataset['session'] = H.getSessionId() ?? ''
