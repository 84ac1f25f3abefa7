// What both load generators of a relay job (throughput-worker.ts, light-throughput-worker.ts) count:
// messages sent and received, until all arrived or nothing arrived for a while, and the result.
import type { ThroughputResult } from './throughput-worker.ts'

export interface ThroughputCount {
  /** when the count began: publishing starts now */
  readonly start: number
  sent(messages: number): void
  /** one message reached the subscriber */
  received(): void
  /** the subscriber's connection closed: nothing more will arrive */
  closed(): void
  /** publishing is over: resolves once the rest arrived (or stopped arriving) */
  result(): Promise<ThroughputResult>
}

/** `idleMs`: QoS 0 may be dropped, so the count stops once nothing has arrived for this long */
export function countThroughput(idleMs: number): ThroughputCount {
  const start = performance.now()
  const cpu0 = process.cpuUsage()
  let sent = 0
  let received = 0
  let last = 0
  let publishing = true
  let allIn = () => {}
  const arrived = new Promise<void>((resolve) => (allIn = resolve))
  const idle = setInterval(() => performance.now() - (last || start) > idleMs && allIn(), 100)
  return {
    start,
    sent: (messages) => void (sent += messages),
    received() {
      last = performance.now()
      if (++received >= sent && !publishing) allIn()
    },
    closed: () => allIn(),
    async result() {
      publishing = false
      if (received >= sent) allIn()
      await arrived
      clearInterval(idle)
      const ms = last - start
      const cpu = process.cpuUsage(cpu0)
      return {
        sent,
        received,
        ms,
        perSecond: ms > 0 ? (received / ms) * 1000 : 0,
        clientCpu: (cpu.user + cpu.system) / 10 / (performance.now() - start),
      }
    },
  }
}
