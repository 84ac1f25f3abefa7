// Long-lived sessions and the credentials behind them (issue 24, items 2 and 9): MQTT tokens from a
// key stay inside the key's scope and end with it; a revoked session's will is not published; client
// ids are per principal; token sessions count against the connection limit; a password change ends
// other connections at once; the error log does not carry a PIN's pin_code. Real server and clients.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { WebSocket } from 'ws'
import type { MqttClient } from 'mqtt'
import { createController, createKeyForUser, createOrg, createOrgUser } from '../../core/admin.ts'
import { addMember, requireOrganization } from '../../core/accounts/organizations.ts'
import { revokeKey } from '../../core/accounts/keys.ts'
import { providers } from '../helpers/core.ts'
import { basicAuth } from '../helpers/http.ts'
import { closed, collect, connect, endAll, granted, refusalCode } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const PASSWORD = 'long enough pw'
/** what a test sent, without the presence notices the server publishes to controller folders */
const payloads = (messages: { payload: string }[]) =>
  messages.map((m) => m.payload).filter((p) => !p.includes('"presence"'))
const CONNECTIONS_PER_KEY = 2

for (const provider of providers) {
  describe(`sessions and their credentials on ${provider}`, () => {
    let server: TestServer
    let annKey: string
    let annId: number

    before(async () => {
      server = await startTestServer(provider, { config: { 'mqtt-connections-per-key': CONNECTIONS_PER_KEY } })
      const core = server.core
      await createOrg(core, 'acme')
      await createOrg(core, 'beta')
      // ann belongs to both organizations; her key is scoped to acme
      annId = (await createOrgUser(core, 'ann@example.com', PASSWORD, 'acme', false)).id
      await addMember(core.db, (await requireOrganization(core.db, 'beta')).id, annId, false)
      annKey = (await createKeyForUser(core, 'ann@example.com', 'acme')).key
    })
    after(async () => {
      endAll()
      await server.close()
    })

    async function signIn(email = 'ann@example.com', password = PASSWORD) {
      const res = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email_address: email, password }),
      })
      assert.equal(res.status, 200)
      const { csrf_token: csrf } = (await res.json()) as { csrf_token: string }
      return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrf }
    }
    async function mqttInfo(headers: Record<string, string>) {
      const res = await fetch(`${server.url}/api/v1/mqtt-info`, { headers })
      assert.equal(res.status, 200)
      return (await res.json()) as { token: string; clientId: string }
    }
    const tokenClient = (token: string, clientId?: string) =>
      connect(server.wsUrl, token, { username: 'token', ...(clientId ? { clientId } : {}) })
    const keyIdOf = async (controllerId: number) =>
      (await server.core.db.key.findFirstOrThrow({ where: { accessAsControllerId: controllerId } })).id

    test('a token got with a key scoped to one organization reads and writes only that organization, like the key', async () => {
      const betaPi = await createController(server.core, 'beta/pi-scope')
      const { token } = await mqttInfo({ authorization: basicAuth(annKey) })
      const client = await tokenClient(token)
      assert.equal(await granted(client, 'acme/#'), 0)
      assert.equal(await granted(client, 'beta/#'), 128, 'beta is outside the key’s scope')
      assert.equal(await granted(client, 'beta/pi-scope'), 128)
      const watcher = await connect(server.mqttUrl, betaPi.key)
      assert.equal(await granted(watcher, 'beta/pi-scope'), 0)
      const arrived = collect(watcher, 1000)
      client.publish('beta/pi-scope', 'written through acme’s key')
      assert.deepEqual(payloads(await arrived), [], 'nothing reaches beta')
    })

    test('revoking a key closes the sessions of tokens got with it within about a second, and the token opens no new one', async () => {
      const bob = await createOrgUser(server.core, 'bob@example.com', PASSWORD, 'acme', false)
      const { key, id } = await createKeyForUser(server.core, 'bob@example.com', 'acme')
      const { token } = await mqttInfo({ authorization: basicAuth(key) })
      const client = await tokenClient(token)
      const revokedAt = Date.now()
      await revokeKey(server.core.db, id, bob.id)
      assert.equal(await closed(client, 2500), true)
      assert.ok(Date.now() - revokedAt < 2500)
      assert.equal(await refusalCode(server.wsUrl, token, { username: 'token' }), 4)
    })

    test("a signed-in browser's token still has its user's whole access", async () => {
      const { cookie } = await signIn()
      const client = await tokenClient((await mqttInfo({ cookie })).token)
      assert.equal(await granted(client, 'acme/#'), 0)
      assert.equal(await granted(client, 'beta/#'), 0)
    })

    test("a session closed because its key was revoked leaves no will; a dropped connection's will is published", async () => {
      const revoked = await createController(server.core, 'acme/will/pi-revoked')
      const dropped = await createController(server.core, 'acme/will/pi-dropped')
      const watcher = await connect(server.mqttUrl, annKey)
      assert.equal(await granted(watcher, 'acme/will/#'), 0)
      const will = (path: string) => ({
        will: { topic: `${path}/status`, payload: Buffer.from('gone'), qos: 0 as const, retain: false },
      })
      const [a, b] = await Promise.all([
        connect(server.mqttUrl, revoked.key, will('acme/will/pi-revoked')),
        connect(server.mqttUrl, dropped.key, will('acme/will/pi-dropped')),
      ])
      const heard = collect(watcher, 2500)
      b!.stream.destroy() // no DISCONNECT: the will is due [MQTT-3.1.2-8]
      await revokeKey(server.core.db, await keyIdOf(revoked.id))
      assert.equal(await closed(a!, 2500), true)
      assert.deepEqual(
        (await heard).filter((m) => m.payload === 'gone').map((m) => m.topic),
        ['acme/will/pi-dropped/status'],
      )
    })

    test('a client whose key was revoked and that drops its own connection before revalidation runs leaves no will; a plain drop still does', async () => {
      const revoked = await createController(server.core, 'acme/will-first/pi-revoked')
      const dropped = await createController(server.core, 'acme/will-first/pi-dropped')
      const watcher = await connect(server.mqttUrl, annKey)
      assert.equal(await granted(watcher, 'acme/will-first/#'), 0)
      const will = (path: string) => ({
        will: { topic: `${path}/status`, payload: Buffer.from('gone'), qos: 0 as const, retain: false },
      })
      const [a, b] = await Promise.all([
        connect(server.mqttUrl, revoked.key, will('acme/will-first/pi-revoked')),
        connect(server.mqttUrl, dropped.key, will('acme/will-first/pi-dropped')),
      ])
      const heard = collect(watcher, 2500)
      await revokeKey(server.core.db, await keyIdOf(revoked.id))
      // at once, no DISCONNECT: revalidation's next tick is up to a second away
      a!.stream.destroy()
      b!.stream.destroy()
      assert.deepEqual(
        (await heard).filter((m) => m.payload === 'gone').map((m) => m.topic),
        ['acme/will-first/pi-dropped/status'],
      )
      await watcher.endAsync() // annKey's sessions count against its limit
    })

    test("a client id is its principal's own: another organization's controller neither takes nor blocks a controller's persistent id", async () => {
      const pi = await createController(server.core, 'acme/ids/pi-1')
      const squatter = await createController(server.core, 'beta/ids/squatter')
      const id = 'ids-pi-1'
      // the squatter connects first, with a persistent session, and goes away
      const first = await connect(server.mqttUrl, squatter.key, { clientId: id, clean: false })
      await granted(first, 'beta/ids/squatter')
      await new Promise<void>((resolve) => first.end(false, {}, () => resolve()))
      // the controller still gets its id, and a persistent session of its own
      const owner = await connect(server.mqttUrl, pi.key, { clientId: id, clean: false })
      assert.equal(await granted(owner, 'acme/ids/pi-1/command', 1), 1)
      await new Promise<void>((resolve) => owner.end(false, {}, () => resolve()))
      const sender = await connect(server.mqttUrl, annKey)
      await new Promise<void>((resolve, reject) =>
        sender.publish('acme/ids/pi-1/command', 'for pi-1', { qos: 1 }, (err) => (err ? reject(err) : resolve())),
      )
      // the squatter with the same id resumes its own session, not the controller's queue
      const again = await connect(server.mqttUrl, squatter.key, { clientId: id, clean: false })
      const back = await connect(server.mqttUrl, pi.key, { clientId: id, clean: false })
      assert.deepEqual(payloads(await collect(back, 700)), ['for pi-1'])
      assert.deepEqual(
        payloads(await collect(again, 300)),
        [],
        'the controller’s queued message does not reach the squatter',
      )
      assert.equal(again.connected, true, 'neither session closes the other')
    })

    test('token sessions count against --mqtt-connections-per-key: per key for a key’s token, per browser session for a cookie’s', async () => {
      await createOrgUser(server.core, 'cat@example.com', PASSWORD, 'acme', false)
      const { cookie } = await signIn('cat@example.com')
      const { token } = await mqttInfo({ cookie })
      const held: MqttClient[] = []
      for (let i = 0; i < CONNECTIONS_PER_KEY; i++) held.push(await tokenClient(token))
      assert.equal(
        await refusalCode(server.wsUrl, token, { username: 'token' }),
        5,
        'one browser session, one more than the limit',
      )
      const { key } = await createKeyForUser(server.core, 'cat@example.com', 'acme')
      for (let i = 0; i < CONNECTIONS_PER_KEY; i++) held.push(await connect(server.mqttUrl, key))
      assert.equal(
        await refusalCode(server.wsUrl, (await mqttInfo({ authorization: basicAuth(key) })).token, {
          username: 'token',
        }),
        5,
        'the key’s token shares the key’s count',
      )
    })

    test('JSON websockets count against --mqtt-connections-per-key with the MQTT sessions of the same key', async () => {
      const { key } = await createKeyForUser(server.core, 'ann@example.com', 'acme')
      const open = (): Promise<number> =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(`${server.url.replace('http', 'ws')}/api/v1/websocket`, {
            headers: { authorization: basicAuth(key) },
          })
          ws.once('open', () => resolve(101))
          ws.once('unexpected-response', (_req, res) => resolve(res.statusCode!))
          ws.once('error', reject)
        })
      const mqtt = await connect(server.mqttUrl, key)
      assert.equal(await open(), 101, 'one MQTT session and one websocket fit the limit of two')
      assert.equal(await open(), 429, 'a third session of the key is refused')
      assert.equal(await refusalCode(server.mqttUrl, key), 5, 'and so is a third over MQTT')
      mqtt.end(true)
      // the MQTT session's room is given back when it closes
      let status = 0
      for (const deadline = Date.now() + 3000; status !== 101 && Date.now() < deadline;) status = await open()
      assert.equal(status, 101)
    })

    test("a password change ends the user's other browser sessions' MQTT and websocket connections at once", async () => {
      await createOrgUser(server.core, 'dan@example.com', PASSWORD, 'acme', false)
      // many connected keys: the slow sweep would reach keyless sessions only after a full round
      // the folder first: parallel creations would race for it
      const first = await createController(server.core, 'acme/crowd/pi-0')
      const controllers = [
        first,
        ...(await Promise.all(
          Array.from({ length: 59 }, (_, i) => createController(server.core, `acme/crowd/pi-${i + 1}`)),
        )),
      ]
      await Promise.all(controllers.map((c) => connect(server.mqttUrl, c.key)))
      const other = await signIn('dan@example.com')
      const mqttClient = await tokenClient((await mqttInfo({ cookie: other.cookie })).token)
      const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/v1/websocket`, {
        headers: { cookie: other.cookie },
      })
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
      const wsClosed = new Promise<boolean>((resolve) => {
        ws.once('close', () => resolve(true))
        setTimeout(resolve, 2500, false)
      })
      const mine = await signIn('dan@example.com')
      const keptClient = await tokenClient((await mqttInfo({ cookie: mine.cookie })).token)
      const changedAt = Date.now()
      const res = await fetch(`${server.url}/api/v1/users/current`, {
        method: 'PUT',
        headers: { cookie: mine.cookie, 'x-csrf-token': mine.csrf, 'content-type': 'application/json' },
        body: JSON.stringify({ password: 'a new long password', old_password: PASSWORD }),
      })
      assert.equal(res.status, 200)
      assert.deepEqual([await closed(mqttClient, 2500), await wsClosed], [true, true])
      assert.ok(Date.now() - changedAt < 2500, `closed after ${Date.now() - changedAt} ms`)
      assert.equal(keptClient.connected, true, 'the session that changed the password keeps its connection')
      ws.terminate()
    })

    test("an unexpected error's log line names the path without the query: a PIN's pin_code stays out of the log", async () => {
      const lines: unknown[] = []
      const log = server.core.log as unknown as { error: (...args: unknown[]) => void }
      const original = log.error
      log.error = (...args: unknown[]) => void lines.push(args)
      await server.core.db.$executeRawUnsafe('ALTER TABLE "Pin" RENAME TO "PinAway"')
      try {
        const res = await fetch(`${server.url}/api/v1/pins/1234?pin_code=SECRETCODE123`)
        assert.equal(res.status, 500)
      } finally {
        await server.core.db.$executeRawUnsafe('ALTER TABLE "PinAway" RENAME TO "Pin"')
        log.error = original
      }
      const text = JSON.stringify(lines)
      assert.match(text, /\/api\/v1\/pins\/1234/)
      assert.doesNotMatch(text, /SECRETCODE123/)
    })
  })
}
