// A Tendril that can be stopped and started again on the same ports over the same database, as a
// controller sees a server restart (for the store-and-forward tests of the controllers SDK).
import { createTendril, type Tendril } from '../../../server.ts'
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
  // the first start takes ports the kernel picks; a restart binds the same ones again
  let port = 0
  let mqttPort = 0
  let tendril: Tendril | null = null
  const start = async () => {
    tendril = await createTendril(core)
    const bound = await tendril.listen({ port, host: '127.0.0.1', mqttPort })
    port = bound.port
    mqttPort = bound.mqttPort!
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
