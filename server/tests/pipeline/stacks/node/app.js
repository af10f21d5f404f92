'use strict'
const { EventEmitter } = require('events')
const http = require('http')

function chargeCard(order) {
  throw new Error(`card declined for order ${order}`)
}

const bus = new EventEmitter()
bus.on('order', (order) => chargeCard(order))

const out = {}
try { bus.emit('order', 42) } catch (err) { out.emitter = err.stack }

const server = http.createServer((req, res) => {
  try { bus.emit('order', 7) } catch (err) { out.http = err.stack }
  res.end('ok')
})
server.listen(0, '127.0.0.1', () => {
  const port = server.address().port
  http.get({ host: '127.0.0.1', port, path: '/' }, (res) => {
    res.resume()
    res.on('end', async () => {
      server.close()
      // an awaited rejection: task_queues frames
      try { await Promise.resolve().then(() => chargeCard(9)) } catch (err) { out.async = err.stack }
      // all frames in the runtime
      const sock = require('net').connect(1, '127.0.0.1')
      sock.on('error', (err) => { out.refused = err.stack; console.log(JSON.stringify(out)) })
    })
  })
})
