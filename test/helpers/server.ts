// Starts a whole Tendril instance in-process on free loopback ports, over a fresh database (or,
// to run several instances as one deployment, over the database of another).
import { createTendril } from '../../server.ts'
import type { Logger } from '../../core/log.ts'
import { openTestCore, type Provider, type TestCore } from './core.ts'

export interface TestServer {
  core: TestCore
  /** the --db URL, for another instance over the same data */
  databaseUrl: string
  url: string
  mqttUrl: string
  wsUrl: string
  /** /metrics on its own port, with --metrics-port */
  metricsUrl?: string
  close(): Promise<void>
}

export interface TestServerOptions {
  /** settings by flag name, e.g. { redis: 'redis://…', 'broker-id': 'a' } */
  config?: Record<string, unknown>
  /** a TestServer's databaseUrl: this instance shares that database instead of a fresh one */
  databaseUrl?: string
  /** where the server logs (silent when not given) */
  logger?: Logger
}

export async function startTestServer(provider: Provider, options: TestServerOptions = {}): Promise<TestServer> {
  const core = await openTestCore(
    provider,
    { ...options.config, ...(options.databaseUrl ? { db: options.databaseUrl } : {}) },
    options.logger,
  )
  // on a failure (Redis unreachable, a port taken meanwhile) what was opened is closed, so the test
  // fails instead of hanging on open connections
  const tendril = await createTendril(core).catch(async (err: unknown) => {
    await core.cleanup()
    throw err
  })
  const { port, mqttPort, metricsPort } = await tendril
    .listen({ port: 0, host: '127.0.0.1', mqttPort: 0 })
    .catch(async (err: unknown) => {
      await tendril.close()
      await core.cleanup()
      throw err
    })
  return {
    core,
    databaseUrl: core.config.database.url,
    url: `http://127.0.0.1:${port}`,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    wsUrl: `ws://127.0.0.1:${port}/mqtt`,
    ...(metricsPort === undefined ? {} : { metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` }),
    async close() {
      await tendril.close()
      await core.cleanup()
    },
  }
}
