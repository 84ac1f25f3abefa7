// The figures an operator watches (Prometheus at /metrics, $SYS topics). Hot paths only add to
// plain numbers in `figures`; the Prometheus objects read them when scraped, so a message costs an
// increment and never a label lookup.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Counters that the broker and the core add to as things happen. */
export interface Figures {
  publishReceived: number
  publishBytesReceived: number
  publishSent: number
  publishBytesSent: number
  /** PUBLISHes refused, by reason */
  refused: { access: number; rate: number; revoked: number; storeFailed: number; tooLarge: number }
  valuesStored: number
  /** values a message carried that were not stored (bad value, no sequence, too large…) */
  valuesRefused: number
  /** QoS 1/2 messages for an absent persistent session dropped past --mqtt-max-queued */
  offlineDropped: number
  historyRows: number
}

/** A live figure read when scraped (connections, queue lengths): the broker registers them. */
export type Reading = () => number

export interface Metrics {
  registry: Registry
  figures: Figures
  /** seconds one database statement took */
  observeQuery(kind: 'query' | 'execute' | 'transaction', seconds: number): void
  observeBlob(operation: 'put' | 'get' | 'has' | 'delete', seconds: number): void
  observeHttp(route: string, method: string, status: number, seconds: number): void
  /** a gauge read from the given functions, one per label value */
  gauge(name: string, help: string, label: string, readings: Record<string, Reading>): void
  /** a counter read from a function at each scrape (what grows elsewhere, e.g. bytes on sockets) */
  counter(name: string, help: string, label: string, readings: Record<string, Reading>): void
  /** event-loop delay, heap, GC and CPU of the process (prom-client's default metrics) */
  collectProcessMetrics(): void
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

function emptyFigures(): Figures {
  return {
    publishReceived: 0,
    publishBytesReceived: 0,
    publishSent: 0,
    publishBytesSent: 0,
    refused: { access: 0, rate: 0, revoked: 0, storeFailed: 0, tooLarge: 0 },
    valuesStored: 0,
    valuesRefused: 0,
    offlineDropped: 0,
    historyRows: 0,
  }
}

/** A counter whose value is read, not counted, at each scrape. */
function readCounter(
  registry: Registry,
  name: string,
  help: string,
  label: string | undefined,
  readings: Record<string, Reading>,
) {
  registry.removeSingleMetric(name) // a broker made again over the same core reads its own
  new Counter({
    name,
    help,
    labelNames: label ? [label] : [],
    registers: [registry],
    collect() {
      this.reset()
      for (const [value, read] of Object.entries(readings)) {
        const n = read()
        if (label) this.inc({ [label]: value }, n)
        else this.inc(n)
      }
    },
  })
}

export function createMetrics(): Metrics {
  const registry = new Registry()
  const figures = emptyFigures()
  const f = figures
  readCounter(registry, 'tendril_mqtt_messages_received_total', 'PUBLISH packets received from clients', undefined, {
    all: () => f.publishReceived,
  })
  readCounter(
    registry,
    'tendril_mqtt_message_bytes_received_total',
    'payload bytes of the PUBLISH packets received',
    undefined,
    { all: () => f.publishBytesReceived },
  )
  readCounter(registry, 'tendril_mqtt_messages_sent_total', 'PUBLISH packets forwarded to clients', undefined, {
    all: () => f.publishSent,
  })
  readCounter(
    registry,
    'tendril_mqtt_message_bytes_sent_total',
    'payload bytes of the PUBLISH packets forwarded',
    undefined,
    { all: () => f.publishBytesSent },
  )
  readCounter(
    registry,
    'tendril_mqtt_publishes_refused_total',
    'PUBLISH packets refused (the connection is closed)',
    'reason',
    {
      access: () => f.refused.access,
      rate: () => f.refused.rate,
      revoked: () => f.refused.revoked,
      store_failed: () => f.refused.storeFailed,
      too_large: () => f.refused.tooLarge,
    },
  )
  readCounter(
    registry,
    'tendril_values_total',
    'sequence values received through any door, by what became of them',
    'outcome',
    {
      stored: () => f.valuesStored,
      refused: () => f.valuesRefused,
    },
  )
  readCounter(
    registry,
    'tendril_mqtt_offline_dropped_total',
    'messages for absent persistent sessions dropped past --mqtt-max-queued',
    undefined,
    { all: () => f.offlineDropped },
  )
  readCounter(registry, 'tendril_history_rows_written_total', 'message history rows written', undefined, {
    all: () => f.historyRows,
  })

  const query = new Histogram({
    name: 'tendril_db_query_duration_seconds',
    help: 'database statements through Prisma',
    labelNames: ['kind'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  })
  const blob = new Histogram({
    name: 'tendril_blob_operation_duration_seconds',
    help: 'blob store operations (a get until its stream is open)',
    labelNames: ['operation'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  })
  const http = new Histogram({
    name: 'tendril_http_request_duration_seconds',
    help: 'HTTP requests by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  })
  let processMetrics = false
  return {
    registry,
    figures,
    observeQuery: (kind, seconds) => query.observe({ kind }, seconds),
    observeBlob: (operation, seconds) => blob.observe({ operation }, seconds),
    observeHttp: (route, method, status, seconds) => http.observe({ route, method, status: String(status) }, seconds),
    gauge(name, help, label, readings) {
      registry.removeSingleMetric(name)
      new Gauge({
        name,
        help,
        labelNames: [label],
        registers: [registry],
        collect() {
          for (const [value, read] of Object.entries(readings)) this.set({ [label]: value }, read())
        },
      })
    },
    counter: (name, help, label, readings) => readCounter(registry, name, help, label, readings),
    collectProcessMetrics() {
      if (processMetrics) return
      processMetrics = true
      collectDefaultMetrics({ register: registry, prefix: 'tendril_' })
    },
  }
}

/** Seconds since `started` (a performance.now() reading). */
export function secondsSince(started: number): number {
  return (performance.now() - started) / 1000
}
