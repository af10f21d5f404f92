/**
 * Request phases from a PerformanceResourceTiming. A browser withholds the detailed marks
 * of a cross-origin response without `Timing-Allow-Origin` (domainLookupStart, connectStart,
 * requestStart, responseStart… read 0): each phase whose marks are withheld is null
 * ("unknown"), never 0. A phase the browser did measure keeps its value, 0 included (dns and
 * connect on a reused connection; tls without TLS). The total (`end - start`) is always known.
 */
import type { Timing } from './types'

/** The marks the phases come from (ms since the time origin; 0 = withheld). */
export type Marks = Pick<
  PerformanceResourceTiming,
  | 'domainLookupStart'
  | 'domainLookupEnd'
  | 'connectStart'
  | 'connectEnd'
  | 'secureConnectionStart'
  | 'requestStart'
  | 'responseStart'
  | 'responseEnd'
>

/** b - a in ms to 0.1, or null when a mark is withheld (0) or they are out of order. */
function span(a: number, b: number): number | null {
  if (!(a > 0 && b >= a)) return null
  return Math.round((b - a) * 10) / 10
}

export function phases(t: Marks): Timing {
  const connect = span(t.connectStart, t.connectEnd)
  return {
    dns: span(t.domainLookupStart, t.domainLookupEnd),
    connect,
    // secureConnectionStart is 0 when no TLS handshake happened (http, reused connection)
    tls: connect === null ? null : t.secureConnectionStart > 0 ? span(t.secureConnectionStart, t.connectEnd) : 0,
    ttfb: span(t.requestStart, t.responseStart),
    download: span(t.responseStart, t.responseEnd),
  }
}
