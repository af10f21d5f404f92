/**
 * Header names of the linkage contract (docs/linkage.md) that the browser SDK sends: the one
 * place it spells them. Tests hold them to docs/linkage-vectors.json.
 */

/** `<session id>/<request id>` on every request `tracingOrigins` matches. */
export const HEADER = 'x-highlight-request'
/** W3C trace context, with the request id as its trace id. */
export const TRACEPARENT_HEADER = 'traceparent'
/** The first-party cookie holding the session id, for requests that carry no header
 * (link clicks, form posts). */
export const SESSION_COOKIE = 'backlight_session'
/** The `Server-Timing` metric (and `<meta name>`) with the document response's traceparent. */
export const TRACEPARENT_METRIC = 'traceparent'
/** The `Server-Timing` metric with the server's clock (ms since the epoch) when it answered. */
export const TIME_METRIC = 'backlight-time'
/** The same time on `<meta name="traceparent">`. */
export const META_TIME_ATTRIBUTE = 'data-time'
