// Every option also takes `undefined`, so an app can pass a value that may be missing under
// exactOptionalPropertyTypes: a field that refuses it is named in tsc's error here.
import type { NetworkRecordingOptions, Options } from '@backlight/browser'

type RefusesUndefined<T> = { [K in keyof T]-?: undefined extends Required<T>[K] ? never : K }[keyof T]
type None<T extends never> = T

export type OptionsTakeUndefined = None<RefusesUndefined<Options>>
export type NetworkOptionsTakeUndefined = None<RefusesUndefined<NetworkRecordingOptions>>
