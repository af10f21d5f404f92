/**
 * Header names of the linkage contract (docs/linkage.md) that the browser SDK sends: the one
 * place it spells them. Tests hold them to docs/linkage-vectors.json.
 */

/** `<session id>/<request id>` on every request `tracingOrigins` matches. */
export const HEADER = 'x-highlight-request'
/** W3C trace context, with the request id as its trace id. */
export const TRACEPARENT_HEADER = 'traceparent'
