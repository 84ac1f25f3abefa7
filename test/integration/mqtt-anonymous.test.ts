// A public read-only page (a classroom kiosk) follows live values without signing in: mqtt-info gives an
// anonymous caller a token that subscribes only where public read is granted, never publishes, is good
// for its own client id and a clean session only, and counts against its address's session limit.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { providers } from '../helpers/core.ts'
import { fixture, grant, type Grant } from '../helpers/fixtures.ts'
import { closed, collect, connect, endAll, granted, nextMessage, refusalCode } from '../helpers/mqtt.ts'
import { b64, resourceClient, type ResourceClient } from '../helpers/resources.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

interface Info {
  token: string
  clientId: string
  anonymous?: boolean
}

const PER_ADDRESS = 3

for (const provider of providers) {
  describe(`anonymous viewers over MQTT on ${provider}`, () => {
    let server: TestServer
    let admin: ResourceClient
    let pi: MqttClient
    let piKey: string
    const anonymousInfo = async (): Promise<Info> => {
      const res = await fetch(`${server.url}/api/v1/mqtt-info`)
      assert.equal(res.status, 200)
      return (await res.json()) as Info
    }
    const viewer = async (): Promise<MqttClient> => {
      const info = await anonymousInfo()
      return connect(server.wsUrl, info.token, { username: 'token', clientId: info.clientId })
    }

    before(async () => {
      server = await startTestServer(provider, { config: { 'mqtt-connections-per-key': PER_ADDRESS } })
      const f = await fixture(server.core, {
        org: 'acme',
        users: { teacher: { admin: true } },
        controllers: ['acme/lab/pi', 'acme/office/pi'],
      })
      admin = resourceClient(server.url, f.users.teacher.key)
      piKey = f.controllers['acme/lab/pi'].key
      const org: Grant[] = [
        { to: 'members', level: 'write' },
        { to: 'controllers', level: 'write' },
      ]
      await grant(server.core, '/acme/lab', [{ to: 'public', level: 'read' }, ...org])
      // public write: REST lets an anonymous caller write there (rhizo), MQTT viewers still may not
      assert.equal((await admin.send('POST', '', { path: 'acme', name: 'wall', type: 10 })).status, 200)
      await grant(server.core, '/acme/wall', [{ to: 'public', level: 'write' }, ...org])
      for (const folder of ['acme/lab/pi', 'acme/office/pi', 'acme/wall']) {
        assert.equal((await admin.send('POST', '', { path: folder, name: 'temp', type: 21, data_type: 1 })).status, 200)
      }
      assert.equal((await admin.send('PUT', '/acme/wall/temp', { data: b64('1') })).status, 200)
      pi = await connect(server.mqttUrl, piKey)
    })
    after(async () => {
      endAll()
      await server?.close()
    })

    test('mqtt-info answers an anonymous caller with a token for a viewer', async () => {
      const info = await anonymousInfo()
      assert.equal(info.anonymous, true)
      assert.match(info.clientId, /^kiosk-[0-9a-f]{18}$/)
    })

    test('a cookie of a session that ended gets a 401, so the page signs in again, not a viewer token', async () => {
      const res = await fetch(`${server.url}/api/v1/mqtt-info`, {
        headers: { cookie: 'tendril_session=ended-long-ago' },
      })
      assert.equal(res.status, 401)
    })

    test('a viewer follows a public folder and sees a value a controller publishes', async () => {
      const client = await viewer()
      assert.equal(await granted(client, 'acme/lab/pi'), 0)
      assert.equal(await granted(client, 'acme/lab/#'), 0)
      const next = nextMessage(client, 3000)
      pi.publish('acme/lab/pi/temp', '21.5')
      const message = await next
      assert.ok(message && message.payload.includes('21.5'), `got ${JSON.stringify(message)}`)
      client.end(true)
    })

    test('a viewer subscribes to nothing that is not public, wildcards and $SYS included', async () => {
      const client = await viewer()
      for (const filter of [
        'acme/office/pi',
        'acme/office/#',
        'acme/#',
        'acme',
        '#',
        '+',
        '+/lab/pi',
        '+/+/+',
        '+/office/#',
        '$SYS/#',
        '$SYS/+/clients',
        'beta/#',
      ]) {
        assert.equal(await granted(client, filter), 128, filter)
      }
      // and nothing of acme/office reaches it through any of the refused filters
      const seen = collect(client, 800)
      pi.publish('acme/lab/pi', JSON.stringify({ hello: {} })) // the lab is public, but no filter was granted
      assert.deepEqual(await seen, [])
      client.end(true)
    })

    test('a viewer never publishes, not even where public write is granted', async () => {
      for (const topic of ['acme/lab/pi/temp', 'acme/wall/temp', 'acme/wall']) {
        const client = await viewer()
        const gone = closed(client)
        client.publish(topic, '99')
        assert.ok(await gone, `a publish to ${topic} closes the connection`)
      }
      assert.equal(await (await admin.get('/acme/wall/temp')).text(), '1')
    })

    test('a will of a viewer is not published', async () => {
      const watcher = await connect(server.mqttUrl, piKey)
      assert.equal(await granted(watcher, 'acme/wall'), 0)
      const info = await anonymousInfo()
      const client = await connect(server.wsUrl, info.token, {
        username: 'token',
        clientId: info.clientId,
        will: { topic: 'acme/wall', payload: Buffer.from('{"planted":{}}'), qos: 0, retain: false },
      })
      const seen = collect(watcher, 1000)
      ;(client as unknown as { stream: { destroy(): void } }).stream.destroy() // an unclean end sends the will
      assert.deepEqual(
        (await seen).filter((m) => m.payload.includes('planted')),
        [],
      )
      watcher.end(true)
    })

    test('a token is good only for its own client id, a clean session and unaltered claims', async () => {
      const info = await anonymousInfo()
      assert.equal(await refusalCode(server.wsUrl, info.token, { username: 'token', clientId: 'someone-else' }), 2)
      assert.equal(
        await refusalCode(server.wsUrl, info.token, { username: 'token', clientId: info.clientId, clean: false }),
        2,
      )
      const [body, signature] = info.token.split('.') as [string, string]
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>
      const forged = Buffer.from(JSON.stringify({ ...claims, u: 1 })).toString('base64url')
      assert.equal(
        await refusalCode(server.wsUrl, `${forged}.${signature}`, { username: 'token', clientId: info.clientId }),
        4,
      )
      // nor does it pass as an API key
      assert.equal(await refusalCode(server.wsUrl, info.token, { username: 'key', clientId: info.clientId }), 4)
    })

    test(`viewers from one address hold at most ${PER_ADDRESS} sessions, as a key does`, async () => {
      const held = []
      for (let i = 0; i < PER_ADDRESS; i++) held.push(await viewer())
      const info = await anonymousInfo()
      assert.equal(await refusalCode(server.wsUrl, info.token, { username: 'token', clientId: info.clientId }), 5)
      held.pop()!.end(true)
      await new Promise((resolve) => setTimeout(resolve, 200)) // the server sees the close
      const again = await anonymousInfo()
      assert.equal(await refusalCode(server.wsUrl, again.token, { username: 'token', clientId: again.clientId }), 0)
      for (const client of held) client.end(true)
    })

    test('a folder made private again stops reaching its viewers', async () => {
      await new Promise((resolve) => setTimeout(resolve, 200)) // the sessions of the test before are gone
      const client = await viewer()
      assert.equal(await granted(client, 'acme/lab/pi'), 0)
      const acme = (await admin.json<{ id: number }>('/acme', { meta: 1 })).id
      assert.equal(
        (
          await admin.send('PUT', '/acme/lab', {
            permissions: JSON.stringify([
              [110, acme, 20],
              [120, acme, 20],
            ]),
          })
        ).status,
        200,
      )
      const deadline = Date.now() + 5000
      for (;;) {
        const seen = collect(client, 300)
        pi.publish('acme/lab/pi', JSON.stringify({ probe: {} }))
        if ((await seen).length === 0) break
        assert.ok(Date.now() < deadline, 'values still reach the viewer 5 s after the folder was made private')
      }
      client.end(true)
    })
  })
}
