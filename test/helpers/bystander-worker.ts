// The bystander of the hostile-client fault scenarios (fault-watch.ts startBystander), in a child
// process: an authenticated MQTT.js subscriber and publisher timing round trips on their own topic.
import mqtt, { type MqttClient } from 'mqtt'

const { url, key, everyMs, stallMs } = JSON.parse(process.argv[2]!) as {
  url: string
  key: string
  everyMs: number
  stallMs: number
}
const send = (m: object) => process.send!(m)
const topic = 'acme/bystander/echo'
const options = { username: 'key', password: key, reconnectPeriod: 0, connectTimeout: 10_000 }
const sub = await mqtt.connectAsync(url, { ...options, clientId: 'bystander-sub' })
const pub = await mqtt.connectAsync(url, { ...options, clientId: 'bystander-pub' })
await sub.subscribeAsync(topic, { qos: 0 })
const sent = new Map<number, number>()
let samples: number[] = []
let lastReceived = performance.now()
let stopping = false
let stalled = false
sub.on('message', (_t, payload) => {
  const n = Number(payload.toString())
  const at = sent.get(n)
  if (at === undefined) return
  sent.delete(n)
  lastReceived = performance.now()
  stalled = false
  samples.push(lastReceived - at)
})
for (const [name, client] of [
  ['subscriber', sub],
  ['publisher', pub],
] as [string, MqttClient][]) {
  client.on('close', () => stopping || send({ problem: `bystander ${name} disconnected` }))
}
let n = 0
const sender = setInterval(() => {
  const now = performance.now()
  if (now - lastReceived > stallMs && !stalled) {
    stalled = true
    send({ problem: `bystander stalled: nothing received for ${stallMs} ms` })
  }
  sent.set(++n, now)
  pub.publish(topic, String(n), { qos: 0 })
}, everyMs)
const reporter = setInterval(() => {
  send({ samples })
  samples = []
}, 100)
send({ ready: true })
process.on('message', async () => {
  stopping = true
  clearInterval(sender)
  clearInterval(reporter)
  send({ samples })
  await Promise.all([sub.endAsync(), pub.endAsync()])
  send({ stopped: true })
})
process.on('disconnect', () => process.exit(0)) // the scenario ended without stopping it
