// A controller program for the restart test: connects (the server is down), queues `count` values
// of `sequence` one millisecond apart from `start`, says "queued" and waits to be killed.
import { connect } from '@tendril/controllers-sdk'

const [server, mqttUrl, key, controllerPath, queueDir, sequence, count, start] = process.argv.slice(2)
const client = await connect({
  server: server!,
  mqttUrl,
  key: key!,
  controllerPath,
  queueDir,
  connectTimeoutMs: 2000,
  reconnect: { minMs: 60_000 },
})
const t0 = Date.parse(start!)
const writes: Promise<void>[] = []
for (let i = 0; i < Number(count); i++)
  writes.push(client.sequences.update(sequence!, i, { timestamp: new Date(t0 + i) }))
await Promise.all(writes)
process.stdout.write(`queued ${client.queue.size}\n`)
setInterval(() => {}, 1 << 30) // killed by the test (SIGKILL: no chance to tidy up)
