// Child process of bench/mqtt-throughput.ts: one subscriber and several publishers (MQTT.js) on one
// topic. Publishers send QoS 0 as fast as the socket's backpressure allows; the subscriber counts.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { countThroughput } from './throughput-count.ts'
import { serveJobs } from './worker.ts'

export interface ThroughputJob {
  url: string
  topic: string
  /** { username: 'key', password } for Tendril; absent for brokers without auth */
  auth?: { username: string; password: string }
  publishers: number
  /** messages in all, split evenly between the publishers */
  messages: number
  /** publishers stop early after this long, so a slow case still ends in bounded time */
  maxMs: number
  payload: string
  /** give up this long after the last message arrived (QoS 0 may be dropped) */
  idleMs: number
  /** messages per second from all publishers together; absent: as fast as each can */
  rate?: number
}

export interface ThroughputResult {
  sent: number
  received: number
  /** from the first publish to the last message received */
  ms: number
  perSecond: number
  /** CPU used by this load generator while publishing and receiving, % of one core */
  clientCpu: number
}

function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, keepalive: 60, ...options })
    client.once('connect', () => resolve(client))
    client.once('error', reject)
  })
}

function subscribe(client: MqttClient, topic: string): Promise<void> {
  return new Promise((resolve, reject) =>
    client.subscribe(topic, { qos: 0 }, (err, granted) => {
      if (err) return reject(err)
      if (granted?.[0]?.qos === 128) return reject(new Error(`subscription to ${topic} refused`))
      resolve()
    }),
  )
}

const publishOne = (client: MqttClient, topic: string, payload: Buffer) =>
  new Promise<void>((resolve, reject) =>
    client.publish(topic, payload, { qos: 0 }, (err) => (err ? reject(err) : resolve())),
  )

async function run(job: ThroughputJob): Promise<ThroughputResult> {
  const options: IClientOptions = job.auth ? { ...job.auth } : {}
  const subscriber = await connect(job.url, { ...options, clientId: `bench-sub-${process.pid}-${Date.now()}` })
  const publishers = await Promise.all(
    Array.from({ length: job.publishers }, (_, i) =>
      connect(job.url, { ...options, clientId: `bench-pub-${i}-${process.pid}-${Date.now()}` }),
    ),
  )
  try {
    await subscribe(subscriber, job.topic)
    const perPublisher = Math.floor(job.messages / job.publishers)
    const payload = Buffer.from(job.payload)
    const count = countThroughput(job.idleMs)
    subscriber.on('message', () => count.received())
    subscriber.once('close', () => count.closed())
    const msPerMessage = job.rate ? job.publishers / (job.rate / 1000) : 0
    await Promise.all(
      publishers.map(async (p) => {
        for (let i = 0; i < perPublisher && performance.now() - count.start < job.maxMs; i++) {
          // paced: ahead of the schedule by more than a millisecond, wait for it
          const early = count.start + i * msPerMessage - performance.now()
          if (early > 1) await new Promise((resolve) => setTimeout(resolve, early))
          await publishOne(p, job.topic, payload)
          count.sent(1)
        }
      }),
    )
    return await count.result()
  } finally {
    // publishers first: a subscriber that leaves while the broker still queues messages for it is what
    // sets off mqemitter's recursive drain (see the report in bench/README.md)
    const end = (c: MqttClient) => new Promise<void>((resolve) => c.end(true, {}, () => resolve()))
    await Promise.all(publishers.map(end))
    await end(subscriber)
  }
}

serveJobs(run)
