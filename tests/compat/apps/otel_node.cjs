// A Node http API instrumented with plain OpenTelemetry (loaded with
// --require ./otel_instrumentation.cjs), as docs/node.md describes.
const http = require('node:http')
const { trace, logs, SeverityNumber, SpanStatusCode } = require('@opentelemetry/api')

const logger = logs.getLogger('shop')

function cors(req, res) {
  res.setHeader('access-control-allow-origin', req.headers.origin || '*')
  res.setHeader('access-control-allow-headers',
    'content-type, x-highlight-request, traceparent, baggage')
}

http.createServer((req, res) => {
  cors(req, res)
  if (req.method === 'OPTIONS') return res.writeHead(204).end()
  if (req.url === '/health') return res.writeHead(200).end('ok')
  if (req.url === '/fail') {
    logger.emit({ severityNumber: SeverityNumber.WARN, severityText: 'WARN',
                  body: 'otel node: stock check failing' })
    const err = new Error('otel node inventory exploded')
    const span = trace.getActiveSpan()
    span?.recordException(err)
    span?.setStatus({ code: SpanStatusCode.ERROR, message: err.message })
    return res.writeHead(500, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: err.message }))
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
}).listen(Number(process.env.PORT), '127.0.0.1')
