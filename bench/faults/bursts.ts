// Bursts and fairness: one controller writes bursts of small QoS 0 PUBLISHes, each burst in one TCP
// write (within its publish rate, as a device flushing a backlog does), while a bystander in a process
// of its own times round trips every 20 ms. Prints the bystander's latency before and during; exit 1
// if its p99 during the bursts passes --max-p99.
//   node --import tsx bench/faults/bursts.ts [--burst 3000] [--every 2000] [--seconds 20] [--max-p99 100] [--pg]
import { connect } from 'node:net'
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import mqttPacket from 'mqtt-packet'
import { fmtLatency, percentiles, serveProvisioned, startBystander } from '../../test/helpers/fault-watch.ts'

const { values: args } = parseArgs({
  options: {
    burst: { type: 'string', default: '3000' },
    every: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '20' },
    'max-p99': { type: 'string', default: '100' },
    pg: { type: 'boolean', default: false },
  },
})

interface BurstResult {
  before: ReturnType<typeof percentiles>
  during: ReturnType<typeof percentiles>
  bursts: number
  problems: string[]
}

/**
 * Runs the scenario against a fresh server. Its latency figures stay here, not in a test; the test
 * (mqtt-bursts.test.ts) checks what the read slices must not break.
 */
async function runBursts(options: {
  provider: 'sqlite' | 'postgresql'
  burst: number
  everyMs: number
  seconds: number
}): Promise<BurstResult> {
  const { server, keys, bystanderKey } = await serveProvisioned(options.provider, 1)
  const url = `mqtt://127.0.0.1:${server.mqttPort}`
  const bystander = await startBystander(url, bystanderKey)
  const burster = connect(server.mqttPort!, '127.0.0.1')
  try {
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const before = percentiles(bystander.take())
    burster.on('error', () => undefined)
    burster.resume() // PUBACKs and the like are not read
    burster.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: 'burster',
        clean: true,
        keepalive: 0,
        username: 'key',
        password: Buffer.from(keys[0]!),
      }),
    )
    const publish = mqttPacket.generate({
      cmd: 'publish',
      topic: 'acme/c-0/burst',
      payload: Buffer.from('{"level":{"v":21.5,"unit":"C"}}'),
      qos: 0,
      retain: false,
      dup: false,
    })
    const burst = Buffer.concat(Array.from({ length: options.burst }, () => publish))
    let bursts = 0
    const timer = setInterval(() => {
      burster.write(burst)
      bursts++
    }, options.everyMs)
    await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000))
    clearInterval(timer)
    const during = percentiles(bystander.take())
    return { before, during, bursts, problems: [...bystander.problems] }
  } finally {
    burster.destroy()
    await bystander.stop()
    await server.stop('SIGKILL')
  }
}

const burst = Number(args.burst)
const result = await runBursts({
  provider: args.pg ? 'postgresql' : 'sqlite',
  burst,
  everyMs: Number(args.every),
  seconds: Number(args.seconds),
})
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
)
console.log(`${result.bursts} bursts of ${burst} PUBLISH (one write each), every ${args.every} ms`)
console.log(`  bystander before: ${fmtLatency(result.before)}`)
console.log(`  bystander during: ${fmtLatency(result.during)}`)
console.log(`  problems: ${result.problems.join('; ') || 'none'}`)
const failed = result.problems.length > 0 || result.during.p99 > Number(args['max-p99'])
process.exit(failed ? 1 : 0)
