// A NUL character in a message's parameters: PostgreSQL stores none in JSON, so such a message must
// be refused where it arrives, not fail the history write it shares with other clients' messages.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { createLogger } from '../../core/log.ts'
import { folderMessages } from '../../core/messages/history.ts'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { eventually } from '../helpers/http.ts'
import { connect, endAll } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

for (const provider of providers) {
  describe(`NUL in MQTT message parameters on ${provider}`, () => {
    let server: TestServer
    let keys: { a: string; b: string }
    const lines: string[] = []
    const logger = createLogger({ logLevel: 'info', logFormat: 'json' }, { write: (s: string) => void lines.push(s) })

    before(async () => {
      server = await startTestServer(provider, { logger })
      const f = await fixture(server.core, { org: 'acme', controllers: ['acme/lab/pi-1', 'acme/lab/pi-2'] })
      keys = { a: f.controllers['acme/lab/pi-1'].key, b: f.controllers['acme/lab/pi-2'].key }
    })
    after(async () => {
      endAll()
      await server.close()
    })

    const history = async (path: string) =>
      folderMessages(server.core, (await findPath(server.core.db, path))!.at(-1)!.id)

    test('is refused, and the messages written beside it are kept', async () => {
      const hostile = await connect(server.mqttUrl, keys.a)
      const honest = await connect(server.mqttUrl, keys.b)
      const refused = new Promise<Error | undefined>((resolve) =>
        hostile.publish('acme/lab/pi-1', JSON.stringify({ note: { text: 'a\u0000b' } }), { qos: 1 }, (err) =>
          resolve(err),
        ),
      )
      for (let i = 0; i < 5; i++) honest.publish('acme/lab/pi-2', JSON.stringify({ note: { n: i } }))
      // MQTT 3.1.1 has no refusal in PUBACK: the broker logs it and keeps nothing of it
      const answered = await Promise.race([refused.then(() => true), sleep(10_000).then(() => false)])
      assert.ok(answered, 'the publisher is answered, not left waiting')
      assert.ok(await eventually(async () => (await history('/acme/lab/pi-2')).length === 5))
      assert.deepEqual(await history('/acme/lab/pi-1'), [])
      assert.ok(
        lines.some((l) => /NUL/.test(l)),
        'a log line says why',
      )
    })
  })
}
