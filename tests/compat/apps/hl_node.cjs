// A Node http API instrumented with highlight's Node SDK (@highlight-run/node 3.x), used as
// its documentation says: H.init, then H.parseHeaders(req.headers) for H.consumeError and
// H.log (/fail), and the same inside H.runWithHeaders (/fail-wrapped). Only otlpEndpoint
// points at Backlight.
const http = require('node:http')
const { H } = require('@highlight-run/node')

H.init({
  projectID: process.env.PROJECT,
  otlpEndpoint: process.env.OTLP,
  serviceName: 'hl-node',
  environment: 'test',
})

function cors(req, res) {
  res.setHeader('access-control-allow-origin', req.headers.origin || '*')
  res.setHeader('access-control-allow-headers',
    'content-type, x-highlight-request, traceparent, baggage')
}

function wait(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

http.createServer(async (req, res) => {
  cors(req, res)
  if (req.method === 'OPTIONS') return res.writeHead(204).end()
  if (req.url === '/health') return res.writeHead(200).end('ok')
  const { secureSessionId, requestId } = H.parseHeaders(req.headers)
  if (req.url === '/fail') {
    await wait(50)  // the request is in flight for a while, as a real one is
    H.log('hl node: stock check failing', 'warn', secureSessionId, requestId)
    try {
      throw new Error('hl node inventory exploded')
    } catch (err) {
      H.consumeError(err, secureSessionId, requestId)
    }
    await wait(50)
    return res.writeHead(500, { 'content-type': 'application/json' })
      .end('{"error":"inventory exploded"}')
  }
  if (req.url === '/fail-wrapped') {
    // the handler inside H.runWithHeaders: its span continues the browser's traceparent
    return H.runWithHeaders('GET /fail-wrapped', req.headers, async () => {
      await wait(50)
      H.log('hl node wrapped: stock check failing', 'warn', secureSessionId, requestId)
      H.consumeError(new Error('hl node wrapped inventory exploded'), secureSessionId,
                     requestId)
      res.writeHead(500, { 'content-type': 'application/json' })
        .end('{"error":"inventory exploded"}')
    })
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
}).listen(Number(process.env.PORT), '127.0.0.1')
