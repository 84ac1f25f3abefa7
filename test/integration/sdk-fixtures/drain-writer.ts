// A controller program for the exactly-once test: with `fill`, queues `count` values of `sequence`
// one millisecond apart from `start` and says "queued"; then says how many entries are still queued
// every few ms ("left N") until killed, or, with `finish`, drains the queue, closes and says "done".
import { connect } from '@tendril/controllers-sdk'

const [server, mqttUrl, key, controllerPath, queueDir, mode, sequence, count, start] = process.argv.slice(2)
const client = await connect({
  server: server!,
  mqttUrl,
  key: key!,
  controllerPath,
  queueDir,
  reconnect: { minMs: 50, maxMs: 200 },
})
if (mode === 'fill') {
  const t0 = Date.parse(start!)
  await Promise.all(
    Array.from({ length: Number(count) }, (_, i) =>
      client.sequences.update(sequence!, i, { timestamp: new Date(t0 + i) }),
    ),
  )
  process.stdout.write('queued\n')
}
if (mode === 'finish') {
  await client.flush(60_000)
  await client.close()
  process.stdout.write('done\n')
} else {
  setInterval(() => process.stdout.write(`left ${client.queue.size}\n`), 2) // until SIGKILL
}
