// Child process of bench/mqtt-ingest.ts: controllers publishing sequence values as rhizo's CSV
// lines at QoS 1, each keeping a window of unacknowledged messages in flight.
import mqtt, { type MqttClient } from 'mqtt'
import { serveJobs } from './worker.ts'

export interface IngestJob {
  url: string
  controllers: { key: string; topic: string; sequences: string[] }[]
  /** values in all, spread evenly over the controllers */
  values: number
  /** values per message (CSV lines) */
  perMessage: number
  /** unacknowledged messages per client */
  window: number
  /** each message numbered as the controllers SDK numbers its queue entries ("e," header: stored once) */
  entryIds?: boolean
}

export interface IngestResult {
  sent: number
  /** from the first publish to the last PUBACK */
  ms: number
}

function connect(url: string, key: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { username: 'key', password: key, reconnectPeriod: 0, connectTimeout: 10_000 })
    client.once('connect', () => resolve(client))
    client.once('error', reject)
  })
}

async function run(job: IngestJob): Promise<IngestResult> {
  const clients = await Promise.all(job.controllers.map((c) => connect(job.url, c.key)))
  const perClient = Math.floor(job.values / job.controllers.length / job.perMessage)
  const base = Date.UTC(2020, 0, 1)
  const started = performance.now()
  await Promise.all(
    clients.map(async (client, c) => {
      const { topic, sequences } = job.controllers[c]!
      let next = 0
      const lane = async () => {
        while (next < perClient) {
          const m = next++
          const lines = Array.from({ length: job.perMessage }, (_, i) => {
            const n = m * job.perMessage + i
            return `s,${sequences[n % sequences.length]},${new Date(base + (c * 1e7 + n) * 1000).toISOString()},${(n % 1000) / 10}`
          })
          if (job.entryIds)
            lines.unshift(
              `e,bench${c}producer,${m * job.perMessage + 1},${Math.max(1, (m - job.window) * job.perMessage + 1)}`,
            )
          await new Promise<void>((resolve, reject) =>
            client.publish(topic, lines.join('\n'), { qos: 1 }, (err) => (err ? reject(err) : resolve())),
          )
        }
      }
      await Promise.all(Array.from({ length: job.window }, lane))
    }),
  )
  const ms = performance.now() - started
  await Promise.all(clients.map((client) => client.endAsync()))
  return { sent: perClient * job.perMessage * clients.length, ms }
}

serveJobs<IngestJob, IngestResult>(run)
