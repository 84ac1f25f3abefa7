// REST organizations, organization users, users and system stats: who may do what, across
// organizations, and that removing or deleting someone ends their access at once.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createKeyForUser, createOrgUser } from '../../core/admin.ts'
import { createUser } from '../../core/accounts/users.ts'
import { providers } from '../helpers/core.ts'
import { fixture, PASSWORD } from '../helpers/fixtures.ts'
import { basicAuth, eventually } from '../helpers/http.ts'
import { closed, connect, endAll } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

type Auth = { key: string } | { cookie: string; csrf: string }
interface Answer {
  status: number
  body: Record<string, unknown>
}

for (const provider of providers) {
  describe(`REST organizations, users and stats on ${provider}`, () => {
    let server: TestServer
    let root: Auth
    let ann: Auth // acme admin
    let bob: Auth // acme member
    let bea: Auth // beta admin
    let piKey: string
    let acmeId: number
    let betaId: number

    const call = async (method: string, path: string, auth?: Auth, body?: Record<string, unknown>): Promise<Answer> => {
      const headers: Record<string, string> = {}
      if (auth && 'key' in auth) headers.authorization = basicAuth(auth.key)
      if (auth && 'cookie' in auth) Object.assign(headers, { cookie: auth.cookie, 'x-csrf-token': auth.csrf })
      if (body) headers['content-type'] = 'application/json'
      const res = await fetch(server.url + path, { method, headers, body: body ? JSON.stringify(body) : undefined })
      return { status: res.status, body: (await res.json()) as Record<string, unknown> }
    }
    const signIn = async (email: string, password = PASSWORD): Promise<Auth> => {
      const res = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        body: new URLSearchParams({ email_address: email, password }),
      })
      assert.equal(res.status, 200)
      return {
        cookie: res.headers.getSetCookie()[0]!.split(';')[0]!,
        csrf: ((await res.json()) as { csrf_token: string }).csrf_token,
      }
    }
    const userId = async (email: string) => (await server.core.db.user.findFirstOrThrow({ where: { email } })).id
    const canReadAcmeLab = async (auth: Auth) =>
      (await call('GET', '/api/v1/messages?folder_path=/acme/lab', auth)).status === 200

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, {
        orgs: ['acme', 'beta'],
        users: {
          root: { systemAdmin: true, key: false },
          ann: { admin: true, key: false },
          bob: { key: false },
          bea: { org: 'beta', admin: true, key: false },
        },
        controllers: ['acme/lab/pi-1'],
      })
      acmeId = f.orgs.acme.id
      betaId = f.orgs.beta.id
      piKey = f.controllers['acme/lab/pi-1'].key
      // in no organization
      await createUser(server.core, { email: 'carol@example.com', password: PASSWORD })
      await createUser(server.core, { email: 'dan@example.com', password: PASSWORD })
      root = await signIn('root@example.com')
      ann = await signIn('ann@example.com')
      bob = await signIn('bob@example.com')
      bea = await signIn('bea@example.com')
    })
    after(async () => {
      endAll()
      await server.close()
    })

    describe('organizations', () => {
      test('a member lists their organizations; a system admin lists all; no credentials is 401', async () => {
        const mine = await call('GET', '/api/v1/organizations', bob)
        assert.equal(mine.status, 200)
        assert.deepEqual(Object.keys(mine.body), [String(acmeId)])
        assert.deepEqual(mine.body[acmeId], (await call('GET', '/api/v1/organizations/acme', bob)).body)
        assert.equal((mine.body[acmeId] as { name: string }).name, 'acme')
        const all = await call('GET', '/api/v1/organizations', root)
        assert.deepEqual(Object.keys(all.body).sort(), [String(acmeId), String(betaId)].sort())
        assert.equal((await call('GET', '/api/v1/organizations')).status, 401)
        assert.equal((await call('GET', '/api/v1/organizations', { key: piKey })).status, 403)
      })

      test('another organization answers 404 by name or id, like one that does not exist', async () => {
        assert.equal((await call('GET', '/api/v1/organizations/beta', bob)).status, 404)
        assert.equal((await call('GET', `/api/v1/organizations/${betaId}`, bob)).status, 404)
        assert.equal((await call('GET', '/api/v1/organizations/nope', bob)).status, 404)
        assert.equal((await call('GET', `/api/v1/organizations/${acmeId}`, bob)).status, 200)
        assert.equal((await call('GET', '/api/v1/organizations/acme/users', bea)).status, 404)
      })

      test("only a system admin creates organizations, with rhizo's folder_name and full_name", async () => {
        assert.equal(
          (await call('POST', '/api/v1/organizations', ann, { folder_name: 'gamma', full_name: 'Gamma Labs' })).status,
          403,
        )
        assert.equal((await call('POST', '/api/v1/organizations', undefined, { folder_name: 'gamma' })).status, 401)
        const created = await call('POST', '/api/v1/organizations', root, {
          folder_name: 'gamma',
          full_name: 'Gamma Labs',
        })
        assert.equal(created.status, 200)
        assert.equal(created.body.status, 'ok')
        const gamma = await call('GET', `/api/v1/organizations/${created.body.organization_id}`, root)
        assert.equal((gamma.body as { full_name: string }).full_name, 'Gamma Labs')
        assert.equal((await call('POST', '/api/v1/organizations', root, { folder_name: 'gamma' })).status, 409)
        for (const folder_name of ['a/b', '..', 'x'.repeat(101), ''])
          assert.equal((await call('POST', '/api/v1/organizations', root, { folder_name })).status, 400, folder_name)
        assert.equal(
          await server.core.db.resource.count({ where: { parentId: null, name: { not: 'gamma' }, type: 11 } }),
          2,
        )
      })

      test('an organization admin renames its full name; members may not (403)', async () => {
        assert.equal((await call('PUT', '/api/v1/organizations/acme', bob, { full_name: 'Bob Co' })).status, 403)
        assert.equal((await call('PUT', '/api/v1/organizations/beta', ann, { full_name: 'Ann Co' })).status, 404)
        const renamed = await call('PUT', '/api/v1/organizations/acme', ann, { full_name: 'Acme Corporation' })
        assert.equal(renamed.status, 200)
        assert.equal((await call('GET', '/api/v1/organizations/acme', bob)).body.full_name, 'Acme Corporation')
        assert.equal((await call('PUT', '/api/v1/organizations/acme', ann, { full_name: '' })).status, 400)
      })
    })

    describe('organization users', () => {
      test('an organization admin lists members; a member may not (403)', async () => {
        const members = await call('GET', '/api/v1/organizations/acme/users', ann)
        assert.equal(members.status, 200)
        const list = Object.values(members.body) as { user_id: number; is_admin: boolean; email_address: string }[]
        assert.deepEqual(
          list.map((m) => [m.email_address, m.is_admin]),
          [
            ['ann@example.com', true],
            ['bob@example.com', false],
          ],
        )
        assert.equal((await call('GET', '/api/v1/organizations/acme/users', bob)).status, 403)
      })

      test('adding by email: admin only, unknown email 404, twice 409, bad input 400; an admin of B cannot add to A', async () => {
        assert.equal(
          (await call('POST', '/api/v1/organizations/acme/users', bob, { email_address: 'dan@example.com' })).status,
          403,
        )
        assert.equal(
          (await call('POST', '/api/v1/organizations/acme/users', bea, { email_address: 'dan@example.com' })).status,
          404,
        )
        assert.equal(
          (await call('POST', '/api/v1/organizations/acme/users', ann, { email_address: 'nobody@example.com' })).status,
          404,
        )
        assert.equal((await call('POST', '/api/v1/organizations/acme/users', ann, {})).status, 400)
        assert.equal(
          (
            await call('POST', '/api/v1/organizations/acme/users', ann, {
              email_address: 'dan@example.com',
              is_admin: 'maybe',
            })
          ).status,
          400,
        )
        const dan = await signIn('dan@example.com')
        assert.equal(await canReadAcmeLab(dan), false)
        const added = await call('POST', '/api/v1/organizations/acme/users', ann, { email_address: 'dan@example.com' })
        assert.equal(added.status, 200)
        assert.equal(await canReadAcmeLab(dan), true)
        assert.equal(
          (await call('POST', '/api/v1/organizations/acme/users', ann, { user_id: await userId('dan@example.com') }))
            .status,
          409,
        )
      })

      test('removing a member cuts their session access at once and closes their MQTT key session', async () => {
        const carolId = await userId('carol@example.com')
        assert.equal(
          (await call('POST', '/api/v1/organizations/acme/users', ann, { user_id: carolId, is_admin: 0 })).status,
          200,
        )
        const carol = await signIn('carol@example.com')
        const carolKey = (await createKeyForUser(server.core, 'carol@example.com', 'acme')).key
        assert.equal(await canReadAcmeLab(carol), true)
        const client = await connect(server.mqttUrl, carolKey)
        assert.equal((await call('DELETE', `/api/v1/organizations/acme/users/${carolId}`, bob)).status, 403)
        assert.equal((await call('DELETE', `/api/v1/organizations/acme/users/${carolId}`, ann)).status, 200)
        assert.equal(await canReadAcmeLab(carol), false)
        assert.equal(await canReadAcmeLab({ key: carolKey }), false)
        assert.equal(await closed(client, 2500), true)
        assert.equal((await call('DELETE', `/api/v1/organizations/acme/users/${carolId}`, ann)).status, 404)
        // coming back does not revive the old key
        assert.equal((await call('POST', '/api/v1/organizations/acme/users', ann, { user_id: carolId })).status, 200)
        assert.equal(await canReadAcmeLab(carol), true)
        assert.equal((await call('GET', '/api/v1/users/current', { key: carolKey })).status, 401)
      })

      test('making a member admin lets them manage; the last admin cannot leave or be demoted (409)', async () => {
        const annId = await userId('ann@example.com')
        const bobId = await userId('bob@example.com')
        assert.equal(
          (await call('PUT', `/api/v1/organizations/acme/users/${annId}`, ann, { is_admin: false })).status,
          409,
        )
        assert.equal((await call('DELETE', `/api/v1/organizations/acme/users/${annId}`, ann)).status, 409)
        assert.equal(
          (await call('PUT', `/api/v1/organizations/acme/users/${bobId}`, ann, { is_admin: 'x' })).status,
          400,
        )
        assert.equal(
          (await call('PUT', `/api/v1/organizations/acme/users/${bobId}`, ann, { is_admin: '1' })).status,
          200,
        )
        assert.equal((await call('GET', '/api/v1/organizations/acme/users', bob)).status, 200)
        assert.equal(
          (await call('PUT', `/api/v1/organizations/acme/users/${bobId}`, ann, { is_admin: false })).status,
          200,
        )
        assert.equal((await call('GET', '/api/v1/organizations/acme/users', bob)).status, 403)
      })
    })

    describe('users', () => {
      test("a user reads their own account; others' are 403; a system admin reads and lists all", async () => {
        const me = await call('GET', '/api/v1/users/current', bob)
        assert.equal(me.status, 200)
        assert.equal(me.body.email_address, 'bob@example.com')
        assert.ok(!JSON.stringify(me.body).includes('$2'), 'no password hash')
        assert.equal((await call('GET', `/api/v1/users/${await userId('bob@example.com')}`, bob)).status, 200)
        assert.equal((await call('GET', `/api/v1/users/${await userId('ann@example.com')}`, bob)).status, 403)
        assert.equal(
          (await call('GET', `/api/v1/users/${await userId('ann@example.com')}`, root)).body.email_address,
          'ann@example.com',
        )
        assert.equal((await call('GET', '/api/v1/users/999999', root)).status, 404)
        assert.equal((await call('GET', '/api/v1/users', bob)).status, 403)
        assert.equal((await call('GET', '/api/v1/users/current')).status, 401)
        const all = await call('GET', '/api/v1/users', root)
        assert.ok(
          (Object.values(all.body) as { email_address: string }[]).some((u) => u.email_address === 'bea@example.com'),
        )
        assert.ok(!JSON.stringify(all.body).includes('$2'))
      })

      test('a system admin creates users; anyone else is 403; bad input 400; duplicates 409', async () => {
        assert.equal(
          (await call('POST', '/api/v1/users', ann, { email_address: 'eve@example.com', password: PASSWORD })).status,
          403,
        )
        const created = await call('POST', '/api/v1/users', root, {
          email_address: 'Eve@Example.com',
          password: PASSWORD,
          full_name: 'Eve',
        })
        assert.equal(created.status, 200)
        assert.equal((created.body.user as { email_address: string }).email_address, 'eve@example.com')
        await signIn('eve@example.com')
        assert.equal(
          (await call('POST', '/api/v1/users', root, { email_address: 'eve@example.com', password: PASSWORD })).status,
          409,
        )
        assert.equal(
          (await call('POST', '/api/v1/users', root, { email_address: 'not an email', password: PASSWORD })).status,
          400,
        )
        assert.equal(
          (await call('POST', '/api/v1/users', root, { email_address: 'short@example.com', password: 'x' })).status,
          400,
        )
        assert.equal(await server.core.db.user.count({ where: { email: 'short@example.com' } }), 0)
      })

      test("changing one's password needs the old one and signs out other sessions, keeping this one", async () => {
        await createUser(server.core, { email: 'fay@example.com', password: PASSWORD })
        const here = await signIn('fay@example.com')
        const elsewhere = await signIn('fay@example.com')
        assert.equal(
          (await call('PUT', '/api/v1/users/current', here, { password: 'a new long password' })).status,
          400,
        )
        assert.equal(
          (
            await call('PUT', '/api/v1/users/current', here, {
              password: 'a new long password',
              old_password: 'wrong one!',
            })
          ).status,
          403,
        )
        assert.equal((await call('PUT', '/api/v1/users/current', here, { full_name: 'Fay F' })).body.status, 'ok')
        const changed = await call('PUT', '/api/v1/users/current', here, {
          password: 'a new long password',
          old_password: PASSWORD,
        })
        assert.equal(changed.status, 200)
        assert.equal((await call('GET', '/api/v1/users/current', here)).body.full_name, 'Fay F')
        assert.equal((await call('GET', '/api/v1/users/current', elsewhere)).status, 401)
        await signIn('fay@example.com', 'a new long password')
        const old = await fetch(`${server.url}/sign-in`, {
          method: 'POST',
          body: new URLSearchParams({ email_address: 'fay@example.com', password: PASSWORD }),
        })
        assert.equal(old.status, 401)
        assert.equal(
          (await call('PUT', `/api/v1/users/${await userId('bob@example.com')}`, here, { full_name: 'Not Bob' }))
            .status,
          403,
        )
      })

      test("guessing one's old password is limited: after 10 wrong ones the right one is refused with 429", async () => {
        await createUser(server.core, { email: 'gus@example.com', password: PASSWORD })
        const here = await signIn('gus@example.com')
        const change = (old: string) =>
          call('PUT', '/api/v1/users/current', here, { password: 'a new long password', old_password: old })
        const statuses = await Promise.all(
          Array.from({ length: 12 }, (_, i) => change(`wrong guess ${i}`).then((r) => r.status)),
        )
        assert.deepEqual(statuses.sort(), [...Array(10).fill(403), 429, 429], 'parallel guesses: ten are checked')
        assert.equal((await change(PASSWORD)).status, 429)
      })

      test('a system admin deletes a user (soft): their sessions, keys and MQTT sessions stop working', async () => {
        await createOrgUser(server.core, 'gil@example.com', PASSWORD, 'acme', false)
        const gilId = await userId('gil@example.com')
        const gil = await signIn('gil@example.com')
        const gilKey = (await createKeyForUser(server.core, 'gil@example.com', 'acme')).key
        const client = await connect(server.mqttUrl, gilKey)
        assert.equal((await call('DELETE', `/api/v1/users/${gilId}`, ann)).status, 403)
        assert.equal((await call('DELETE', `/api/v1/users/${await userId('root@example.com')}`, root)).status, 400)
        assert.equal((await call('DELETE', `/api/v1/users/${gilId}`, root)).status, 200)
        assert.equal((await call('GET', '/api/v1/users/current', gil)).status, 401)
        assert.equal((await call('GET', '/api/v1/users/current', { key: gilKey })).status, 401)
        assert.equal(await closed(client, 2500), true)
        const row = await server.core.db.user.findUniqueOrThrow({ where: { id: gilId } })
        assert.equal(row.deleted, true)
        const signInAgain = await fetch(`${server.url}/sign-in`, {
          method: 'POST',
          body: new URLSearchParams({ email_address: 'gil@example.com', password: PASSWORD }),
        })
        assert.equal(signInAgain.status, 401)
        assert.equal((await call('DELETE', `/api/v1/users/${gilId}`, root)).status, 404)
      })
    })

    describe('system stats', () => {
      test('system admins get installation-wide counts; others 403; no credentials 401', async () => {
        const stats = await call('GET', '/api/v1/system/stats', root)
        assert.equal(stats.status, 200)
        const users = await server.core.db.user.count({ where: { deleted: false } })
        assert.equal(stats.body.user_count, users)
        assert.equal(stats.body.organization_count, 3)
        assert.equal(stats.body.controller_count, 1)
        assert.equal(stats.body.connected_controller_count, 0)
        for (const name of [
          'resource_count',
          'thumbnail_count',
          'resource_revision_count',
          'message_count',
          'revision_bytes',
          'bulk_bytes',
          'active_key_count',
        ]) {
          assert.equal(typeof stats.body[name], 'number', name)
        }
        const pi = await connect(server.mqttUrl, piKey)
        assert.ok(pi.connected)
        assert.equal(
          await eventually(
            async () => (await call('GET', '/api/v1/system/stats', root)).body.connected_controller_count === 1,
          ),
          true,
        )
        assert.equal((await call('GET', '/api/v1/system/stats', ann)).status, 403)
        assert.equal((await call('GET', '/api/v1/system/stats', { key: piKey })).status, 403)
        assert.equal((await call('GET', '/api/v1/system/stats')).status, 401)
      })
    })
  })
}
