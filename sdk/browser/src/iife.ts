/** Entry of the script-tag build: exposes `window.H`. */
import { H } from './index'

;(window as unknown as { H: typeof H }).H = H
