// The REST side of the controllers SDK: files.read/write/list, learning the controller's folder from
// /self, and PIN provisioning end to end — against the REST contract of DESIGN.md and issue 5.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { connect, NotFoundError, provision, type TendrilClient } from '@tendril/controllers-sdk'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const PI = '/acme/lab/pi-1'

for (const provider of providers) {
  describe(`controllers SDK over REST on ${provider}`, () => {
    let server: TestServer
    let piKey: string
    let userKey: string
    let dir: string
    const clients: TendrilClient[] = []

    before(async () => {
      server = await startTestServer(provider)
      dir = mkdtempSync(join(tmpdir(), 'tendril-sdk-rest-'))
      const f = await fixture(server.core, {
        orgs: ['acme', 'beta'],
        users: { ann: {} },
        controllers: ['acme/lab/pi-1', 'beta/pi-b', 'acme/lab/pi-new'],
      })
      piKey = f.controllers['acme/lab/pi-1'].key
      userKey = f.users.ann.key
    })
    after(async () => {
      for (const c of clients) await c.close().catch(() => {})
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    })

    let n = 0
    const open = async (options: { key?: string; controllerPath?: string } = {}) => {
      const client = await connect({
        server: server.url,
        mqttUrl: server.mqttUrl,
        key: piKey,
        queueDir: join(dir, `q-${n++}`),
        controllerPath: PI,
        ...options,
      })
      clients.push(client)
      return client
    }

    test('files.write creates a file, writes new revisions, and files.read returns its bytes', async () => {
      const client = await open()
      await client.files.write('config.json', '{"interval": 5}')
      assert.equal(await client.files.readText('config.json'), '{"interval": 5}')
      const bytes = new Uint8Array([0, 1, 2, 255])
      await client.files.write(`${PI}/config.json`, bytes)
      assert.deepEqual(await client.files.read('config.json'), bytes)
    })

    test('files.list lists the controller folder with resource types', async () => {
      const client = await open()
      await client.files.write('listed.txt', 'x')
      const list = await client.files.list()
      assert.equal(list.find((r) => r.name === 'listed.txt')?.type, 20)
      assert.equal(list.find((r) => r.name === 'log')?.type, 21)
    })

    test("a missing file, and another organization's, are NotFoundError alike", async () => {
      const client = await open()
      await assert.rejects(client.files.read('no-such-file'), NotFoundError)
      await assert.rejects(client.files.read('/beta/pi-b/log'), NotFoundError)
    })

    test('without controllerPath the SDK learns its folder from /self and uses it for relative paths', async () => {
      const client = await open({ controllerPath: undefined })
      assert.equal(await client.self(), PI)
      await client.sequences.update('status/processor_usage', 42, { timestamp: '2026-11-20T00:00:00Z' })
      await client.flush(10_000)
      const sequence = (await findPath(server.core.db, `${PI}/status/processor_usage`))!.at(-1)!
      assert.deepEqual((await sequenceHistory(server.core.db, sequence.id, { count: 10 })).values, ['42'])
    })

    test('provision: PIN shown, assigned by a user, key stored with mode 0600, and the key works', async () => {
      const configFile = join(dir, 'controller.json')
      let assigned: Promise<Response> | undefined
      const config = await provision({
        server: server.url,
        configFile,
        pollMs: 100,
        timeoutMs: 20_000,
        onPin: (pin) => {
          assigned = fetch(`${server.url}/api/v1/pins/${pin}`, {
            method: 'PUT',
            headers: { authorization: basicAuth(userKey), 'content-type': 'application/json' },
            body: JSON.stringify({ controller: '/acme/lab/pi-new' }),
          })
        },
      })
      assert.equal((await assigned!).status, 200)
      assert.equal(config.controllerPath, '/acme/lab/pi-new')
      assert.match(config.key, /^tdl_/)
      assert.equal(statSync(configFile).mode & 0o777, 0o600)
      assert.deepEqual(JSON.parse(readFileSync(configFile, 'utf8')), {
        server: server.url,
        key: config.key,
        controllerPath: '/acme/lab/pi-new',
      })
      // a second run finds the key and asks for no PIN
      const again = await provision({
        server: server.url,
        configFile,
        onPin: () => assert.fail('asked for a PIN again'),
      })
      assert.equal(again.key, config.key)
      const client = await open({ key: config.key, controllerPath: config.controllerPath })
      assert.equal(client.isConnected, true)
    })
  })
}
