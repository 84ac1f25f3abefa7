// MQTT authentication and authorization with real MQTT.js clients over TCP and WebSocket,
// on SQLite and PostgreSQL.
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { createAdmin, createController, createKeyForUser, createOrgUser } from '../../core/admin.ts'
import { removeMemberAs } from '../../core/accounts/memberships.ts'
import { issueToken } from '../../core/accounts/tokens.ts'
import { deleteUserAs } from '../../core/accounts/user-admin.ts'
import { Role } from '../../core/accounts/users.ts'
import { findPath } from '../../core/resources/tree.ts'
import { revokeKey } from '../../core/accounts/keys.ts'
import { bumpCredentialsVersion } from '../../core/accounts/credentials-version.ts'
import { providers } from '../helpers/core.ts'
import { fixture, grant } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { closed, collect, connect, endAll, granted, nextMessage, rawConnackCode, refusalCode } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const run = promisify(execFile)

for (const provider of providers) {
  describe(`MQTT access on ${provider}`, () => {
    let server: TestServer
    let pi1: string
    let pi2: string
    let betaPi: string
    let memberKey: string

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, {
        orgs: ['acme', 'beta'],
        users: { ann: {} },
        controllers: [
          'acme/greenhouse/pi-1',
          'acme/greenhouse/pi-2',
          'beta/pi-b',
          'acme/private/pi-p',
          'acme/notices/pi-n',
        ],
      })
      pi1 = f.controllers['acme/greenhouse/pi-1'].key
      pi2 = f.controllers['acme/greenhouse/pi-2'].key
      betaPi = f.controllers['beta/pi-b'].key
      memberKey = f.users.ann.key
      // a folder only its own controller may see
      await grant(server.core, '/acme/private', [
        { to: { controller: f.controllers['acme/private/pi-p'].id }, level: 'write' },
      ])
      // a notice board: the organization's users read it, its controllers write it
      await grant(server.core, '/acme/notices', [
        { to: 'members', level: 'read' },
        { to: 'controllers', level: 'write' },
      ])
    })
    after(async () => {
      endAll()
      await server.close()
    })

    test('a controller connects with username "key" and its API key, over TCP and WebSocket', async () => {
      const tcp = await connect(server.mqttUrl, pi1)
      const ws = await connect(server.wsUrl, pi2)
      assert.ok(tcp.connected && ws.connected)
    })

    test('a wrong key, a revoked-looking key or another username is refused with CONNACK 4', async () => {
      assert.equal(await refusalCode(server.mqttUrl, pi1.slice(0, -1) + (pi1.endsWith('A') ? 'B' : 'A')), 4)
      assert.equal(await refusalCode(server.mqttUrl, 'nonsense'), 4)
      assert.equal(await refusalCode(server.mqttUrl, pi1, { username: 'admin' }), 4)
      assert.equal(await refusalCode(server.wsUrl, ''), 4)
    })

    test('a message published on one door reaches subscribers on the other', async () => {
      const subscriber = await connect(server.mqttUrl, pi1)
      assert.equal(await granted(subscriber, 'acme/greenhouse/pi-1'), 0)
      const publisher = await connect(server.wsUrl, memberKey)
      const received = nextMessage(subscriber)
      publisher.publish('acme/greenhouse/pi-1', JSON.stringify({ set_interval: { seconds: 5 } }))
      assert.deepEqual(await received, { topic: 'acme/greenhouse/pi-1', payload: '{"set_interval":{"seconds":5}}' })
    })

    test("a sub-topic below a folder is reachable with the folder's access", async () => {
      const subscriber = await connect(server.mqttUrl, pi1)
      assert.equal(await granted(subscriber, 'acme/greenhouse/pi-1/commands/led'), 0)
      const publisher = await connect(server.mqttUrl, pi2)
      const received = nextMessage(subscriber)
      publisher.publish('acme/greenhouse/pi-1/commands/led', 'on')
      assert.equal((await received)?.payload, 'on')
    })

    test('a controller cannot subscribe to another organization, with or without wildcards', async () => {
      const outsider = await connect(server.mqttUrl, betaPi)
      for (const filter of ['acme/greenhouse/pi-1', 'acme/#', 'acme/+/pi-1', '#', '+/greenhouse/#', '+', '$SYS/#']) {
        assert.equal(await granted(outsider, filter), 128, filter)
      }
      assert.equal(await granted(outsider, 'beta/#'), 0, 'its own organization stays open')
    })

    test('a wildcard filter is refused when a folder below it is closed to the subscriber', async () => {
      const member = await connect(server.mqttUrl, memberKey)
      assert.equal(await granted(member, 'acme/#'), 128)
      assert.equal(await granted(member, 'acme/private/#'), 128)
      assert.equal(await granted(member, 'acme/greenhouse/#'), 0)
      assert.equal(await granted(member, 'acme/greenhouse/+/log'), 0)
    })

    test('publishing to another organization closes the connection and delivers nothing', async () => {
      const subscriber = await connect(server.mqttUrl, pi1)
      await granted(subscriber, 'acme/greenhouse/pi-1')
      const outsider = await connect(server.mqttUrl, betaPi)
      const received = nextMessage(subscriber, 1000)
      outsider.publish('acme/greenhouse/pi-1', 'intrusion')
      assert.equal(await closed(outsider), true)
      assert.equal(await received, null)
    })

    test('a principal that may only read a folder is disconnected when it publishes there, and nothing is delivered', async () => {
      const subscriber = await connect(server.mqttUrl, pi1)
      assert.equal(await granted(subscriber, 'acme/notices/#'), 0)
      const reader = await connect(server.mqttUrl, memberKey)
      assert.equal(await granted(reader, 'acme/notices/#'), 0, 'it may read')
      const received = collect(subscriber, 1500)
      reader.publish('acme/notices/board', 'graffiti') // MQTT 3.1.1 has no negative PUBACK: the connection is closed
      assert.equal(await closed(reader), true)
      // mosquitto_pub at QoS 1 never gets its PUBACK: the connection closes and the command fails
      const { hostname, port } = new URL(server.mqttUrl)
      await assert.rejects(
        run('mosquitto_pub', [
          '-h',
          hostname,
          '-p',
          port,
          '-u',
          'key',
          '-P',
          memberKey,
          '-t',
          'acme/notices/board',
          '-m',
          'more graffiti',
          '-q',
          '1',
        ]),
      )
      assert.deepEqual(await received, [])
    })

    test('a system admin may subscribe to "#" but receives no $SYS topics', async (t) => {
      const admin = await createAdmin(server.core, 'root-hash@example.com', 'long enough pw')
      const token = issueToken(server.core, admin.id)
      const { hostname, port } = new URL(server.mqttUrl)
      const everything = spawn('mosquitto_sub', [
        '-h',
        hostname,
        '-p',
        port,
        '-u',
        'token',
        '-P',
        token,
        '-t',
        '#',
        '-v',
        '-W',
        '3',
      ])
      t.after(() => everything.kill())
      let lines = ''
      everything.stdout.on('data', (d) => (lines += d))
      const exited = new Promise((resolve) => everything.on('close', resolve))
      // an admin watching $SYS/# shows that the broker announced new clients and subscriptions meanwhile
      const watcher = await connect(server.mqttUrl, token, { username: 'token' })
      assert.equal(await granted(watcher, '$SYS/#'), 0)
      const announced = collect(watcher, 2500)
      const publisher = await connect(server.mqttUrl, pi1)
      const timer = setInterval(() => publisher.publish('acme/greenhouse/pi-1/hello', 'hi'), 200)
      await exited
      clearInterval(timer)
      const topics = lines
        .trim()
        .split('\n')
        .map((line) => line.split(' ')[0]!)
      assert.ok(topics.includes('acme/greenhouse/pi-1/hello'), "it receives the organizations' topics")
      assert.deepEqual(
        topics.filter((t) => t.startsWith('$')),
        [],
      )
      assert.ok(
        (await announced).some((m) => m.topic.startsWith('$SYS/')),
        'there was $SYS traffic to withhold',
      )
    })

    test('a SUBSCRIBE deeper than the 32-level limit is refused by closing the connection', async () => {
      const levels = (n: number) =>
        ['acme', 'greenhouse', 'pi-1', ...Array.from({ length: n - 3 }, (_, i) => `l${i}`)].join('/')
      const client = await connect(server.mqttUrl, pi1)
      assert.equal(await granted(client, levels(32)), 0, '32 levels are allowed')
      client.subscribe(levels(33))
      assert.equal(await closed(client), true)
    })

    test('publishing to $SYS is refused', async () => {
      const client = await connect(server.mqttUrl, pi1)
      client.publish('$SYS/broker/fake', 'x')
      assert.equal(await closed(client), true)
    })

    test('a client id in use by another principal cannot be taken over: ids are per principal', async () => {
      const owner = await connect(server.mqttUrl, pi1, { clientId: 'greenhouse-pi-1' })
      const other = await connect(server.mqttUrl, pi2, { clientId: 'greenhouse-pi-1' })
      assert.equal(owner.connected && other.connected, true, 'each has a session of its own')
      // the same controller reconnecting (e.g. after a network drop) takes its session back
      const again = await connect(server.mqttUrl, pi1, { clientId: 'greenhouse-pi-1' })
      assert.equal(await closed(owner), true)
      assert.equal(again.connected && other.connected, true)
    })

    test('revoking a key, deleting its controller or user, or removing its user from the organization closes live sessions within about a second', async () => {
      const revoked = await createController(server.core, 'acme/greenhouse/pi-revoked')
      const deleted = await createController(server.core, 'acme/greenhouse/pi-deleted')
      await createOrgUser(server.core, 'leaver@example.com', 'long enough pw', 'acme', false)
      const leaverKey = (await createKeyForUser(server.core, 'leaver@example.com', 'acme')).key
      await createOrgUser(server.core, 'gone@example.com', 'long enough pw', 'acme', false)
      const goneKey = (await createKeyForUser(server.core, 'gone@example.com', 'acme')).key
      // a system admin's key needs no membership of the organization it is for
      await createAdmin(server.core, 'root-key@example.com', 'long enough pw')
      const adminKey = (await createKeyForUser(server.core, 'root-key@example.com', 'acme')).key
      const clients = await Promise.all(
        [revoked.key, deleted.key, leaverKey, goneKey, pi1, adminKey].map((key) => connect(server.mqttUrl, key)),
      )
      const started = Date.now()
      await revokeKey(
        server.core.db,
        (await server.core.db.key.findFirstOrThrow({ where: { accessAsControllerId: revoked.id } })).id,
      )
      // no core function deletes a controller or removes a member yet: these edits do what they will,
      // including moving the credentials version
      await server.core.db.resource.update({ where: { id: deleted.id }, data: { deleted: true, liveKey: null } })
      await server.core.db.organizationUser.deleteMany({ where: { user: { email: 'leaver@example.com' } } })
      await server.core.db.user.update({ where: { email: 'gone@example.com' }, data: { deleted: true } })
      await bumpCredentialsVersion(server.core.db)
      assert.deepEqual(await Promise.all(clients.slice(0, 4).map((c) => closed(c, 2500))), [true, true, true, true])
      assert.ok(Date.now() - started < 2500)
      assert.equal(clients[4]!.connected, true, 'other sessions are left alone')
      assert.equal(clients[5]!.connected, true, "a system admin's key stays valid without a membership")
      assert.equal(await refusalCode(server.mqttUrl, revoked.key), 4)
    })

    test("a system admin's key reads only what its organization's lists grant, and closes within about a second once it is no longer valid", async () => {
      // one admin is also a member of acme, the other is not: a key carries no admin's reach either way
      const member = await createOrgUser(server.core, 'demoted-member@example.com', 'long enough pw', 'acme', false)
      await server.core.db.user.update({ where: { id: member.id }, data: { role: Role.systemAdmin } })
      const memberKey = (await createKeyForUser(server.core, 'demoted-member@example.com', 'acme')).key
      const outsider = await createAdmin(server.core, 'demoted-outsider@example.com', 'long enough pw')
      const outsiderKey = (await createKeyForUser(server.core, 'demoted-outsider@example.com', 'acme')).key
      // a folder only its own controller may read: no key passes its list (security-escalation.test.ts)
      const secret = await createController(server.core, 'acme/greenhouse/pi-secret')
      await grant(server.core, '/acme/greenhouse/pi-secret', [{ to: { controller: secret.id }, level: 'write' }])
      const [asMember, asOutsider] = await Promise.all(
        [memberKey, outsiderKey].map((key) => connect(server.mqttUrl, key)),
      )
      for (const client of [asMember!, asOutsider!]) {
        assert.equal(await granted(client, 'acme/greenhouse/pi-secret'), 0x80)
        assert.equal(await granted(client, 'acme/greenhouse/pi-1'), 0)
      }
      // no core function changes a role: a direct edit, as an operator would make, and the marker it should move
      await server.core.db.user.updateMany({
        where: { id: { in: [member.id, outsider.id] } },
        data: { role: Role.standard },
      })
      await bumpCredentialsVersion(server.core.db)
      assert.equal(await closed(asOutsider!, 2500), true)
      assert.equal(
        await refusalCode(server.mqttUrl, outsiderKey),
        4,
        'no longer an admin and not a member: the key grants nothing',
      )
      const rest = await fetch(`${server.url}/api/v1/users/current`, {
        headers: { authorization: basicAuth(outsiderKey) },
      })
      assert.equal(rest.status, 401, 'nor over REST')
      assert.equal(asMember!.connected, true, 'a member keeps what the membership gives')
      assert.equal(await granted(asMember!, 'acme/greenhouse/pi-1'), 0)
    })

    test("a browser's token session closes when its user leaves the organization or is deleted, within about a second", async () => {
      const admin = await createAdmin(server.core, 'root-token@example.com', 'long enough pw')
      const asAdmin = { kind: 'user' as const, userId: admin.id, systemAdmin: true, organizationIds: [] }
      const leaver = await createOrgUser(server.core, 'token-leaver@example.com', 'long enough pw', 'acme', false)
      const deleted = await createOrgUser(server.core, 'token-deleted@example.com', 'long enough pw', 'acme', false)
      const stayer = await createOrgUser(server.core, 'token-stayer@example.com', 'long enough pw', 'acme', false)
      const [a, b, c] = await Promise.all(
        [leaver, deleted, stayer].map((u) =>
          connect(server.mqttUrl, issueToken(server.core, u.id), { username: 'token' }),
        ),
      )
      assert.equal(await granted(a!, 'acme/greenhouse/pi-1'), 0, 'a member reads the organization')
      await removeMemberAs(server.core, asAdmin, 'acme', leaver.id)
      await deleteUserAs(server.core, asAdmin, deleted.id)
      assert.deepEqual(await Promise.all([closed(a!, 2500), closed(b!, 2500)]), [true, true])
      assert.equal(c!.connected, true, 'other users stay connected')
    })

    test('a permission change reaches live subscriptions within about a second', async () => {
      const member = await connect(server.mqttUrl, memberKey)
      assert.equal(await granted(member, 'acme/greenhouse/pi-2'), 0)
      const publisher = await connect(server.mqttUrl, pi2)
      const first = nextMessage(member)
      publisher.publish('acme/greenhouse/pi-2', 'before')
      assert.equal((await first)?.payload, 'before')
      const folder = (await findPath(server.core.db, '/acme/greenhouse/pi-2'))!.at(-1)!
      // only the controller itself
      await grant(server.core, '/acme/greenhouse/pi-2', [{ to: { controller: folder.id }, level: 'write' }])
      await new Promise((r) => setTimeout(r, 1500))
      const after = nextMessage(member, 1000)
      publisher.publish('acme/greenhouse/pi-2', 'after')
      assert.equal(await after, null)
      await grant(server.core, '/acme/greenhouse/pi-2', null)
    })

    test("an offline persistent session's client id is neither taken nor blocked by another principal", async () => {
      const owner = await connect(server.mqttUrl, pi1, { clientId: 'pi-1-persistent', clean: false })
      await granted(owner, 'acme/greenhouse/pi-1')
      await new Promise<void>((resolve) => owner.end(false, {}, () => resolve()))
      // another principal's CONNECT with the id opens a session of its own (test/integration/security-sessions.test.ts)
      assert.equal(await refusalCode(server.mqttUrl, betaPi, { clientId: 'pi-1-persistent', clean: false }), 0)
      assert.equal(await refusalCode(server.mqttUrl, betaPi, { clientId: 'pi-1-persistent', clean: true }), 0)
      assert.equal(await refusalCode(server.mqttUrl, pi1, { clientId: 'pi-1-persistent', clean: false }), 0)
    })

    test('an empty client id is given one with a clean session and refused with a persistent one', async () => {
      const clean = await connect(server.mqttUrl, pi1, { clientId: '', clean: true })
      assert.equal(clean.connected, true)
      // MQTT.js will not send this CONNECT, so it goes out as raw bytes
      assert.equal(await rawConnackCode(server.mqttUrl, pi1, { clientId: '', clean: false }), 2)
    })
  })
}
