// A Raspberry Pi controller on the Tendril controllers SDK: every N seconds it records the CPU
// temperature (simulated where /sys/class/thermal is absent) and the free disk space, writes a line
// to the controller's `log` sequence, and answers a `set_interval` message ({"seconds": N}).
//
// Configuration (environment): TENDRIL_SERVER (HTTP base URL), TENDRIL_CONFIG (JSON file with the
// key; default ./tendril.json — created by PIN provisioning when it has no key), TENDRIL_MQTT_URL
// (optional, e.g. mqtt://host:1883 for MQTT over TCP), TENDRIL_INTERVAL (seconds, default 60),
// TENDRIL_QUEUE_DIR (optional). Readings taken while offline are queued on disk and sent later.
import { readFile, statfs } from 'node:fs/promises'
import { connect, provision } from '@tendril/controllers-sdk'

const THERMAL_ZONE = '/sys/class/thermal/thermal_zone0/temp'

/** °C from the kernel (millidegrees), or a plausible simulated value on machines without a sensor. */
export async function cpuTemperature(): Promise<{ celsius: number; simulated: boolean }> {
  try {
    const milli = Number((await readFile(THERMAL_ZONE, 'utf8')).trim())
    if (Number.isFinite(milli)) return { celsius: milli / 1000, simulated: false }
  } catch {
    // no thermal zone (a container, a laptop VM): simulate
  }
  return { celsius: Math.round((45 + 5 * Math.sin(Date.now() / 60_000)) * 10) / 10, simulated: true }
}

export async function freeDiskBytes(path = '/'): Promise<number> {
  const s = await statfs(path)
  return s.bavail * s.bsize
}

async function main() {
  const server = process.env.TENDRIL_SERVER
  if (!server) throw new Error('set TENDRIL_SERVER to the Tendril URL, e.g. https://tendril.example.com')
  const config = await provision({ server, configFile: process.env.TENDRIL_CONFIG ?? 'tendril.json' })
  const client = await connect({
    server,
    key: config.key,
    controllerPath: config.controllerPath,
    mqttUrl: process.env.TENDRIL_MQTT_URL || undefined,
    queueDir: process.env.TENDRIL_QUEUE_DIR || undefined,
  })
  client.on('error', (err) => console.error(`tendril: ${err.name}: ${err.message}`))
  client.on('connect', () => console.log('tendril: connected'))
  client.on('offline', () => console.log('tendril: offline, queueing readings'))

  let seconds = Number(process.env.TENDRIL_INTERVAL ?? 60)
  let timer: NodeJS.Timeout | undefined
  const log = (line: string) => {
    console.log(line)
    return client.sequences.update('log', line)
  }
  const schedule = () => {
    clearInterval(timer)
    timer = setInterval(() => void reading().catch((err: Error) => console.error(err.message)), seconds * 1000)
  }
  const reading = async () => {
    const { celsius, simulated } = await cpuTemperature()
    const free = await freeDiskBytes()
    await client.sequences.update('cpu_temperature', celsius)
    await client.status.set({ free_disk_space: free })
    await log(`cpu ${celsius} C${simulated ? ' (simulated)' : ''}, ${(free / 2 ** 30).toFixed(1)} GiB free`)
  }

  await client.messages.on('set_interval', (message) => {
    const next = Number(message.parameters.seconds)
    if (!Number.isFinite(next) || next < 1 || next > 86_400) {
      void log(`set_interval ignored: seconds must be 1..86400, got ${JSON.stringify(message.parameters.seconds)}`)
      return
    }
    seconds = next
    schedule()
    void log(`interval set to ${seconds} s`)
  })

  await log(`started, reading every ${seconds} s`)
  await reading()
  schedule()
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      clearInterval(timer)
      // what is not delivered yet stays in the on-disk queue for the next start
      void client.close().then(() => process.exit(0))
    })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: Error) => {
    console.error(`tendril-pi: ${err.message}`)
    process.exit(1)
  })
}
