// A Tendril that can be stopped and started again on the same ports over the same database, as a
// controller sees a server restart (for the store-and-forward tests of the controllers SDK).
import { createTendril, type Tendril } from '../../../server.ts'
import { freePort } from '../../harness/ports.ts'
import { openTestCore, type Provider, type TestCore } from '../../helpers/core.ts'

export interface RestartableServer {
  core: TestCore
  url: string
  mqttUrl: string
  stop(): Promise<void>
  start(): Promise<void>
  close(): Promise<void>
}

export async function startRestartableServer(provider: Provider): Promise<RestartableServer> {
  const core = await openTestCore(provider)
  const port = await freePort()
  const mqttPort = await freePort()
  let tendril: Tendril | null = null
  const start = async () => {
    tendril = await createTendril(core)
    await tendril.listen({ port, host: '127.0.0.1', mqttPort })
  }
  const stop = async () => {
    await tendril?.close()
    tendril = null
  }
  await start()
  return {
    core,
    url: `http://127.0.0.1:${port}`,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    start,
    stop,
    async close() {
      await stop()
      await core.cleanup()
    },
  }
}
