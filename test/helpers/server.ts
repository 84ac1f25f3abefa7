// Starts a whole Tendril instance in-process on free loopback ports, over a fresh database.
import { createTendril } from '../../server.ts'
import { freePort } from '../harness/ports.ts'
import { openTestCore, type Provider, type TestCore } from './core.ts'

export interface TestServer {
  core: TestCore
  url: string
  mqttUrl: string
  wsUrl: string
  close(): Promise<void>
}

export async function startTestServer(provider: Provider): Promise<TestServer> {
  const core = await openTestCore(provider)
  const tendril = await createTendril(core)
  const { port, mqttPort } = await tendril.listen({ port: 0, host: '127.0.0.1', mqttPort: await freePort() })
  return {
    core,
    url: `http://127.0.0.1:${port}`,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    wsUrl: `ws://127.0.0.1:${port}/mqtt`,
    async close() {
      await tendril.close()
      await core.cleanup()
    },
  }
}
