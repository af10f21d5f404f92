// The app's entry, using the package as docs/browser-sdk.md says: named import, typed options.
import { H, type NetworkEntry, type Options } from '@backlight/browser'

const params = new URLSearchParams(location.search)

// Values that may be missing go in as they are: the options accept `undefined`, also under
// exactOptionalPropertyTypes.
const options: Options = {
  backendUrl: params.get('backend') ?? undefined,
  tracingOrigins: true,
  networkRecording: {
    enabled: true,
    recordHeadersAndBody: true,
    requestResponseSanitizer: (entry: NetworkEntry): NetworkEntry | null => entry,
  },
  serviceName: 'vite-consumer',
  version: params.get('release') ?? undefined,
}
H.init(params.get('project') ?? '1', options)
H.track('consumer-ready', { bundler: 'vite' })

const app = document.querySelector<HTMLDivElement>('#app')
if (app) app.textContent = `Backlight: ${H.getRecordingState()}`
document.body.dataset['session'] = H.getSessionId() ?? ''
