// CONNECT's key lookups: batched, and a slow one (a lost packet, a busy database) holds up only the
// CONNECTs in its own batch, not those that arrive after it.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { keyPartOf } from '../../core/accounts/keys.ts'
import type { Db } from '../../core/db/index.ts'
import { createTendril, type Tendril } from '../../server.ts'
import { openTestCore, providers, type TestCore } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { connect, endAll, refusalCode } from '../helpers/mqtt.ts'

/** A database whose raw reads that return a row with keyPart `part` answer only once released (a slow round trip). */
function slowForKeyPart(db: Db, part: string) {
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  let reached!: () => void
  const held = new Promise<void>((resolve) => (reached = resolve))
  const queryRaw = async (...args: unknown[]) => {
    const rows = (await (db.$queryRaw as (...a: unknown[]) => Promise<unknown>)(...args)) as { keyPart?: string }[]
    if (rows.some((row) => row.keyPart === part)) {
      reached()
      await released
    }
    return rows
  }
  const slow = new Proxy(db, {
    get(target, prop) {
      if (prop === '$queryRaw') return queryRaw
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { db: slow, held, release }
}

for (const provider of providers) {
  describe(`MQTT key lookups on ${provider}`, () => {
    let core: TestCore
    let tendril: Tendril
    let url: string
    let keys: Record<string, string>
    let slow: ReturnType<typeof slowForKeyPart>

    before(async () => {
      core = await openTestCore(provider)
      const f = await fixture(core, { org: 'acme', controllers: ['acme/pi-1', 'acme/pi-2', 'acme/pi-3'] })
      keys = Object.fromEntries(Object.entries(f.controllers).map(([path, c]) => [path, c.key]))
      slow = slowForKeyPart(core.db, keyPartOf(keys['acme/pi-1']!))
      tendril = await createTendril({ ...core, db: slow.db })
      const { mqttPort } = await tendril.listen({ port: 0, host: '127.0.0.1', mqttPort: 0 })
      url = `mqtt://127.0.0.1:${mqttPort}`
    })
    after(async () => {
      slow.release()
      endAll()
      await tendril.close()
      await core.cleanup()
    })

    test('a slow key lookup holds up only its own CONNECTs', async () => {
      let firstConnected = false
      const first = connect(url, keys['acme/pi-1']!).then((client) => ((firstConnected = true), client))
      await slow.held
      // the second controller's lookup starts while the first one's still waits for its answer
      const second = await Promise.race([
        connect(url, keys['acme/pi-2']!),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 3000)),
      ])
      assert.ok(second, 'the second CONNECT was answered while the first lookup was held')
      assert.equal(firstConnected, false)
      // every key is still checked: one with a known key part but a wrong secret is refused meanwhile
      const key = keys['acme/pi-3']!
      const forged = key.slice(0, 20) + (key[20] === 'A' ? 'B' : 'A') + key.slice(21)
      assert.equal(await refusalCode(url, forged), 4)
      slow.release()
      assert.ok((await first).connected)
    })
  })
}
