// Child process of bench/connection-storm.ts: opens one MQTT connection per entry (CONNECT, then
// SUBSCRIBE to its topic), at most `concurrency` in progress at once, with a bare mqtt-packet client
// so that the load generator itself stays cheap. All connections stay open after the storm until a
// 'close' job closes them, so the broker handles the disconnects outside the measured time.
import net from 'node:net'
import mqttPacket from 'mqtt-packet'
import { serveJobs } from './worker.ts'

export type StormJob = StormSpec | { close: true }

export interface StormSpec {
  host: string
  port: number
  concurrency: number
  /** the SUBSCRIBE's QoS (default 0) */
  qos?: 0 | 1
  clients: { clientId: string; password?: string; topic: string }[]
}

export interface StormResult {
  ok: number
  failed: number
  /** first failure reasons, counted */
  failures: Record<string, number>
  /** from the first connect to the last SUBACK */
  ms: number
  /** connect -> SUBACK of one client, ms */
  p50: number
  p99: number
  /** CPU used by this load generator during the storm, % of one core */
  clientCpu: number
}

function session(job: StormSpec, c: StormSpec['clients'][number], sockets: net.Socket[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(job.port, job.host)
    sockets.push(socket)
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    const fail = (reason: string) => {
      socket.destroy()
      reject(new Error(reason))
    }
    socket.setNoDelay(true)
    socket.on('connect', () => {
      const auth = c.password ? { username: 'key', password: Buffer.from(c.password) } : {}
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          clientId: c.clientId,
          keepalive: 300,
          ...auth,
        }),
      )
    })
    parser.on('packet', (packet) => {
      if (packet.cmd === 'connack') {
        if (packet.returnCode !== 0) return fail(`CONNACK ${packet.returnCode}`)
        socket.write(
          mqttPacket.generate({
            cmd: 'subscribe',
            messageId: 1,
            subscriptions: [{ topic: c.topic, qos: job.qos ?? 0 }],
          }),
        )
      } else if (packet.cmd === 'suback') {
        if (packet.granted[0] === 128) return fail('SUBACK refused')
        resolve()
      }
    })
    socket.on('data', (data) => parser.parse(data))
    socket.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message))
    socket.on('close', () => fail('closed'))
  })
}

let open: net.Socket[] = []

async function run(job: StormJob): Promise<StormResult | null> {
  if ('close' in job) {
    for (const s of open) {
      s.removeAllListeners('close')
      s.destroy()
    }
    open = []
    return null
  }
  const sockets = open
  const failures: Record<string, number> = {}
  const latencies: number[] = []
  let next = 0
  let ok = 0
  const start = performance.now()
  const cpu0 = process.cpuUsage()
  const lane = async () => {
    while (next < job.clients.length) {
      const c = job.clients[next++]!
      const t0 = performance.now()
      try {
        await session(job, c, sockets)
        latencies.push(performance.now() - t0)
        ok++
      } catch (err) {
        const reason = (err as Error).message
        failures[reason] = (failures[reason] ?? 0) + 1
      }
    }
  }
  await Promise.all(Array.from({ length: job.concurrency }, lane))
  const ms = performance.now() - start
  const cpu = process.cpuUsage(cpu0)
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN
  return {
    ok,
    failed: job.clients.length - ok,
    failures,
    ms,
    p50: at(0.5),
    p99: at(0.99),
    clientCpu: ((cpu.user + cpu.system) / 1000 / ms) * 100,
  }
}

serveJobs(run)
