// What the web UI's admin pages need from the API: a system admin makes and unmakes system admins
// (never themselves, never through a key), and lists every controller of the installation with its
// presence; everyone else is refused.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createAdmin, createController, createKeyForUser, createOrg, createOrgUser } from '../../core/admin.ts'
import { providers } from '../helpers/core.ts'
import { basicAuth, eventually } from '../helpers/http.ts'
import { closed, connect, endAll } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

type Auth = { key: string } | { cookie: string; csrf: string }
interface Answer {
  status: number
  body: Record<string, unknown>
}
interface ListedController {
  id: number
  name: string
  path: string
  organization_id: number
  connected: boolean
  last_connect_timestamp: string | null
  last_watchdog_timestamp: string | null
  client_version: string
}
const PASSWORD = 'long enough pw'

for (const provider of providers) {
  describe(`REST system admin: roles and every controller on ${provider}`, () => {
    let server: TestServer
    let root: Auth
    let ann: Auth // acme admin
    let rootKey: string

    const call = async (method: string, path: string, auth?: Auth, body?: Record<string, unknown>): Promise<Answer> => {
      const headers: Record<string, string> = {}
      if (auth && 'key' in auth) headers.authorization = basicAuth(auth.key, 'client 1.2')
      if (auth && 'cookie' in auth) Object.assign(headers, { cookie: auth.cookie, 'x-csrf-token': auth.csrf })
      if (body) headers['content-type'] = 'application/json'
      const res = await fetch(server.url + path, { method, headers, body: body ? JSON.stringify(body) : undefined })
      return { status: res.status, body: (await res.json()) as Record<string, unknown> }
    }
    const signIn = async (email: string): Promise<Auth> => {
      const res = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        body: new URLSearchParams({ email_address: email, password: PASSWORD }),
      })
      assert.equal(res.status, 200)
      return {
        cookie: res.headers.getSetCookie()[0]!.split(';')[0]!,
        csrf: ((await res.json()) as { csrf_token: string }).csrf_token,
      }
    }
    const role = async (id: number) => (await server.core.db.user.findUniqueOrThrow({ where: { id } })).role

    before(async () => {
      server = await startTestServer(provider)
      await createOrg(server.core, 'acme')
      await createOrg(server.core, 'beta')
      await createAdmin(server.core, 'root@example.com', PASSWORD)
      await createOrgUser(server.core, 'ann@example.com', PASSWORD, 'acme', true)
      root = await signIn('root@example.com')
      ann = await signIn('ann@example.com')
      const rootId = (await server.core.db.user.findFirstOrThrow({ where: { email: 'root@example.com' } })).id
      await server.core.db.organizationUser.create({
        data: {
          organizationId: (await server.core.db.resource.findFirstOrThrow({ where: { name: 'acme', parentId: null } }))
            .id,
          userId: rootId,
          isAdmin: true,
        },
      })
      rootKey = (await createKeyForUser(server.core, 'root@example.com', 'acme')).key
    })
    after(async () => {
      endAll()
      await server.close()
    })

    test('a system admin makes a user a system admin and back; the demoted user is signed out at once', async () => {
      const bob = await createOrgUser(server.core, 'bob@example.com', PASSWORD, 'acme', false)
      const made = await call('PUT', `/api/v1/users/${bob.id}`, root, { system_admin: 1 })
      assert.equal(made.status, 200)
      assert.equal((made.body.user as { system_admin: boolean }).system_admin, true)
      const bobSession = await signIn('bob@example.com')
      assert.equal(
        (await call('GET', '/api/v1/system/stats', bobSession)).status,
        200,
        'the new admin has the rights at once',
      )
      const listed = Object.values((await call('GET', '/api/v1/users', root)).body) as {
        id: number
        system_admin: boolean
      }[]
      assert.equal(listed.find((u) => u.id === bob.id)?.system_admin, true)

      const unmade = await call('PUT', `/api/v1/users/${bob.id}`, root, { system_admin: false })
      assert.equal(unmade.status, 200)
      assert.equal(await role(bob.id), 0)
      assert.equal(
        (await call('GET', '/api/v1/users/current', bobSession)).status,
        401,
        'the session that had admin rights ended',
      )
      const again = await signIn('bob@example.com')
      assert.equal((await call('GET', '/api/v1/system/stats', again)).status, 403)
    })

    test("nobody else changes a role: not a member about themselves, an org admin, a system admin's key, or oneself", async () => {
      const cy = await createOrgUser(server.core, 'cy@example.com', PASSWORD, 'acme', false)
      const cySession = await signIn('cy@example.com')
      const annId = (await server.core.db.user.findFirstOrThrow({ where: { email: 'ann@example.com' } })).id
      const rootId = (await server.core.db.user.findFirstOrThrow({ where: { email: 'root@example.com' } })).id
      assert.equal((await call('PUT', '/api/v1/users/current', cySession, { system_admin: 1 })).status, 403)
      assert.equal((await call('PUT', `/api/v1/users/${cy.id}`, cySession, { system_admin: 1 })).status, 403)
      assert.equal((await call('PUT', `/api/v1/users/${cy.id}`, ann, { system_admin: 1 })).status, 403)
      assert.equal((await call('PUT', `/api/v1/users/${annId}`, { key: rootKey }, { system_admin: 1 })).status, 403)
      const self = await call('PUT', `/api/v1/users/${rootId}`, root, { system_admin: 0 })
      assert.equal(self.status, 400)
      assert.match(String(self.body.message), /yourself/)
      assert.equal((await call('PUT', `/api/v1/users/${cy.id}`, root, { system_admin: 'maybe' })).status, 400)
      assert.deepEqual([await role(cy.id), await role(annId), await role(rootId)], [0, 0, 2])
    })

    test('every controller of every organization, with presence, for system admins only', async () => {
      const pi = await createController(server.core, 'acme/lab/pi-1')
      const other = await createController(server.core, 'beta/pi-b')
      await createController(server.core, 'beta/gone')
      assert.equal((await call('DELETE', '/api/v1/resources/beta/gone', root)).status, 200)
      const list = async () =>
        Object.values((await call('GET', '/api/v1/system/controllers', root)).body) as ListedController[]
      const before = await list()
      assert.deepEqual(before.map((c) => c.path).sort(), ['/acme/lab/pi-1', '/beta/pi-b'], 'deleted ones left out')
      assert.equal(before.find((c) => c.id === other.id)?.connected, false)
      assert.equal(before.find((c) => c.id === other.id)?.last_connect_timestamp, null)

      const client = await connect(server.mqttUrl, pi.key)
      assert.ok(client.connected)
      assert.equal(await eventually(async () => (await list()).find((c) => c.id === pi.id)?.connected === true), true)
      const online = (await list()).find((c) => c.id === pi.id)!
      assert.equal(online.name, 'pi-1')
      assert.match(online.last_connect_timestamp ?? '', /Z$/)
      assert.equal(typeof online.client_version, 'string')
      client.end(true)
      assert.equal(await closed(client, 1000), true)

      assert.equal((await call('GET', '/api/v1/system/controllers', ann)).status, 403)
      assert.equal(
        (await call('GET', '/api/v1/system/controllers', { key: rootKey })).status,
        403,
        "a system admin's key is no system admin",
      )
      assert.equal((await call('GET', '/api/v1/system/controllers', { key: pi.key })).status, 403)
      assert.equal((await call('GET', '/api/v1/system/controllers')).status, 401)
    })

    test('the session tells the page the password rule', async () => {
      const session = await call('GET', '/api/v1/session', ann)
      assert.equal(session.body.password_min_length, server.core.config.passwordMinLength)
    })
  })
}
