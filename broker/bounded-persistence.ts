// Before its CONNACK, Aedes reads or clears the session in its persistence (Redis with --redis). While
// Redis does not answer, ioredis holds the command until it is back, so a CONNECT would hang for as long
// as the outage. That first step is bounded: past the bound the connection is closed without a CONNACK
// (logged by closing-log.ts) and the client connects again, as it does after any disconnect.
import type { AedesOptions } from 'aedes'
import type { Logger } from '../core/log.ts'

/** How long a CONNECT waits for the broker state before its connection is closed. */
export const CONNECT_STATE_WAIT_MS = 2000
const LOG_EVERY_MS = 10_000

/** The persistence's first step of a CONNECT: a clean session clears, a persistent one reads its subscriptions. */
const CONNECT_STEPS = ['cleanSubscriptions', 'subscriptionsByClient'] as const

type Persistence = NonNullable<AedesOptions['persistence']>

/** Bounds the CONNECT steps of `persistence` (changed in place) and returns it. */
export function boundConnectSteps(persistence: Persistence, log: Logger, ms = CONNECT_STATE_WAIT_MS): Persistence {
  const methods = persistence as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  let lastLine = -Infinity
  let refused = 0
  const timedOut = () => {
    refused++
    if (Date.now() - lastLine >= LOG_EVERY_MS) {
      log.warn(
        { refusedSinceLastLine: refused, waitedMs: ms },
        'the broker state (redis) does not answer: CONNECTs are closed',
      )
      lastLine = Date.now()
      refused = 0
    }
    return new Error(`the broker state (redis) did not answer within ${ms} ms; connect again later`)
  }
  for (const name of CONNECT_STEPS) {
    const step = methods[name]?.bind(persistence)
    if (step) methods[name] = (...args) => bounded(step(...args), ms, timedOut)
  }
  return persistence
}

function bounded<T>(promise: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(timedOut()), ms)))
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
