// OpenTelemetry for a Node backend that reports to Backlight (the recipe in docs/node.md).
// Load it before the app: node --require ./otel_instrumentation.cjs server.cjs
const { NodeSDK } = require('@opentelemetry/sdk-node')
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http')
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http')
const { BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs')
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http')
const { defaultResource, resourceFromAttributes } = require('@opentelemetry/resources')

const backlight = process.env.BACKLIGHT_URL || 'http://localhost:8082'

const sdk = new NodeSDK({
  resource: defaultResource().merge(resourceFromAttributes({
    'service.name': process.env.SERVICE_NAME || 'node-api',
    'deployment.environment': process.env.NODE_ENV || 'development',
    'highlight.project_id': process.env.BACKLIGHT_PROJECT,
  })),
  traceExporter: new OTLPTraceExporter({ url: `${backlight}/v1/traces` }),
  logRecordProcessors: [
    new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${backlight}/v1/logs` }) }),
  ],
  metricReaders: [],  // Backlight accepts OTLP metrics and drops them
  // continues the browser's trace from its `traceparent` header: the trace id is the
  // request id, so every span, log and exception of the request links to it exactly
  instrumentations: [new HttpInstrumentation()],
})
sdk.start()

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => sdk.shutdown().finally(() => process.exit(0)))
}
