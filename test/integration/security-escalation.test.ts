// Escalations (issue 24, items 1 and 3), each attack performed over REST against a real server:
// an organization admin must not reach a system admin's power through a key, nor another of a
// member's organizations; write access to one shared folder must not become a whole organization's.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createController, createKeyForUser, createOrg, createOrgUser } from '../../core/admin.ts'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { fixture, grant, type Grant } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const PASSWORD = 'long enough pw'
/** An API key, or a signed-in session (cookie + CSRF token). */
type Caller = string | { cookie: string; csrf: string }
interface Answer {
  status: number
  body: Record<string, unknown>
}

for (const provider of providers) {
  describe(`privilege escalations on ${provider}`, () => {
    let server: TestServer
    const ids = {} as Record<'acme' | 'beta' | 'root' | 'oa' | 'bea' | 'ann', number>
    let oaKey: string

    const call = async (method: string, path: string, who?: Caller, body?: Record<string, string>): Promise<Answer> => {
      const headers: Record<string, string> = {}
      if (typeof who === 'string') headers.authorization = basicAuth(who)
      else if (who) Object.assign(headers, { cookie: who.cookie, 'x-csrf-token': who.csrf })
      if (body) headers['content-type'] = 'application/x-www-form-urlencoded'
      const res = await fetch(server.url + path, {
        method,
        headers,
        body: body ? new URLSearchParams(body) : undefined,
      })
      const text = await res.text()
      return {
        status: res.status,
        body: text.startsWith('{') || text.startsWith('[') ? (JSON.parse(text) as Record<string, unknown>) : { text },
      }
    }
    const signIn = async (email: string): Promise<Caller> => {
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
    const userCount = () => server.core.db.user.count()
    const passwordHashOf = async (id: number) =>
      (await server.core.db.user.findUniqueOrThrow({ where: { id } })).passwordHash

    /** What only a system admin may do, tried with who: each must be refused and change nothing. */
    async function assertNoSystemAdminPower(who: string, label: string) {
      const users = await userCount()
      const beaHash = await passwordHashOf(ids.bea)
      const created = await call('POST', '/api/v1/users', who, {
        email_address: `evil-${label}@example.com`,
        password: PASSWORD,
        system_admin: '1',
      })
      assert.equal(created.status, 403, `${label}: creating a system admin`)
      assert.equal(
        (await call('PUT', `/api/v1/users/${ids.bea}`, who, { password: 'taken over pw' })).status,
        403,
        `${label}: setting another user's password`,
      )
      assert.equal((await call('GET', `/api/v1/users/${ids.bea}`, who)).status, 403, `${label}: reading another user`)
      assert.equal((await call('GET', '/api/v1/users', who)).status, 403, `${label}: listing users`)
      assert.equal((await call('DELETE', `/api/v1/users/${ids.bea}`, who)).status, 403, `${label}: deleting a user`)
      assert.equal(
        (await call('POST', '/api/v1/organizations', who, { folder_name: `evil-${label}` })).status,
        403,
        `${label}: creating an organization`,
      )
      assert.equal((await call('GET', '/api/v1/system/stats', who)).status, 403, `${label}: system stats`)
      assert.equal(
        (await call('DELETE', '/api/v1/resources/acme', who)).status,
        403,
        `${label}: deleting its organization`,
      )
      assert.equal(
        (await call('GET', '/api/v1/resources/beta/private?meta=1', who)).status,
        404,
        `${label}: another organization`,
      )
      // an organization admin does not pass a folder's own list: neither does a key
      assert.equal(
        (await call('GET', '/api/v1/resources/acme/ann-only/secret.txt', who)).status,
        404,
        `${label}: a folder only ann may read`,
      )
      assert.equal(await userCount(), users)
      assert.equal(await passwordHashOf(ids.bea), beaHash)
    }

    const sharedWithAnn = (): Grant[] => [
      { to: 'members', level: 'write' },
      { to: 'controllers', level: 'write' },
      { to: { user: ids.ann }, level: 'write' },
    ]

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, {
        orgs: ['acme', 'beta'],
        users: {
          root: { systemAdmin: true, key: false },
          oa: { admin: true },
          ann: {},
          bea: { org: 'beta', admin: true },
        },
      })
      Object.assign(ids, {
        acme: f.orgs.acme.id,
        beta: f.orgs.beta.id,
        root: f.users.root.id,
        oa: f.users.oa.id,
        ann: f.users.ann.id,
        bea: f.users.bea.id,
      })
      oaKey = f.users.oa.key
      for (const [key, path, name] of [
        [f.users.bea.key, '/beta/private', 'notes.txt'],
        [f.users.bea.key, '/beta/shared', 'readme.txt'],
        [f.users.ann.key, '/acme/ann-only', 'secret.txt'],
      ] as const) {
        assert.equal(
          (
            await call('POST', '/api/v1/resources', key, {
              path,
              name,
              type: '20',
              data: Buffer.from('x').toString('base64'),
            })
          ).status,
          200,
        )
      }
      await createController(server.core, 'beta/shared/pi-b')
      await grant(server.core, '/acme/ann-only', [{ to: { user: ids.ann }, level: 'write' }])
      // beta shares one folder with ann of acme: she may write there, and only there
      await grant(server.core, '/beta/shared', sharedWithAnn())
    })
    after(() => server.close())

    describe('an organization admin cannot act as a system admin (item 1)', () => {
      test('a key for a system admin who is not a member of the organization is refused, and nothing it could do happens', async () => {
        const users = await userCount()
        const made = await call('POST', '/api/v1/keys', oaKey, {
          access_as_user_id: String(ids.root),
          organization_id: String(ids.acme),
        })
        assert.equal(made.status, 404, JSON.stringify(made.body))
        assert.equal(made.body.secret_key, undefined)
        // had it been made, this is what it was for
        const attempt = typeof made.body.secret_key === 'string' ? made.body.secret_key : ''
        if (attempt)
          await call('POST', '/api/v1/users', attempt, {
            email_address: 'evil@example.com',
            password: PASSWORD,
            system_admin: '1',
          })
        assert.equal(await userCount(), users)
      })

      test('the same by session: an org admin signed in cannot make a key for a non-member either', async () => {
        const session = await signIn('oa@example.com')
        const made = await call('POST', '/api/v1/keys', session, {
          access_as_user_id: String(ids.root),
          organization_id: String(ids.acme),
        })
        assert.equal(made.status, 404)
        const other = await call('POST', '/api/v1/keys', session, {
          access_as_user_id: String(ids.bea),
          organization_id: String(ids.acme),
        })
        assert.equal(other.status, 404, 'nor for a user of another organization')
      })

      test('a system admin added to the organization: the key an org admin makes for them administers that organization at most', async () => {
        assert.equal(
          (await call('POST', '/api/v1/organizations/acme/users', oaKey, { email_address: 'root@example.com' })).status,
          200,
        )
        const made = await call('POST', '/api/v1/keys', oaKey, {
          access_as_user_id: String(ids.root),
          organization_id: String(ids.acme),
        })
        assert.equal(made.status, 200)
        await assertNoSystemAdminPower(made.body.secret_key as string, 'member-admin-key')
        assert.equal(
          (await call('GET', '/api/v1/resources/acme?meta=1', made.body.secret_key as string)).status,
          200,
          'it still works in acme',
        )
        assert.equal((await call('DELETE', `/api/v1/organizations/acme/users/${ids.root}`, oaKey)).status, 200)
      })

      test("a system admin's own key is scoped to one organization and carries no system-admin power", async () => {
        const own = (await createKeyForUser(server.core, 'root@example.com', 'acme')).key
        await assertNoSystemAdminPower(own, 'own-key')
        // it administers its organization: lists its members and keys
        assert.equal((await call('GET', '/api/v1/organizations/acme/users', own)).status, 200)
        assert.equal((await call('GET', '/api/v1/organizations/beta/users', own)).status, 404)
        // the system admin's session is unscoped and keeps its power
        const session = await signIn('root@example.com')
        assert.equal((await call('GET', '/api/v1/users', session)).status, 200)
        assert.equal((await call('GET', '/api/v1/resources/acme/ann-only/secret.txt', session)).status, 200)
      })

      test("adding a member does not let the adder act as that member in the member's other organizations", async () => {
        assert.equal(
          (await call('POST', '/api/v1/organizations/acme/users', oaKey, { email_address: 'bea@example.com' })).status,
          200,
        )
        const made = await call('POST', '/api/v1/keys', oaKey, {
          access_as_user_id: String(ids.bea),
          organization_id: String(ids.acme),
        })
        assert.equal(made.status, 200)
        const asBea = made.body.secret_key as string
        assert.equal((await call('GET', '/api/v1/resources/beta/private/notes.txt', asBea)).status, 404)
        assert.equal(
          (await call('POST', '/api/v1/resources', asBea, { path: '/beta/private', name: 'x', type: '10' })).status,
          404,
        )
        assert.equal((await call('GET', '/api/v1/organizations/beta/users', asBea)).status, 404)
        assert.equal(
          (
            await call('POST', '/api/v1/organizations/beta/users', asBea, {
              email_address: 'oa@example.com',
              is_admin: '1',
            })
          ).status,
          404,
        )
        // nor mint a key of bea's for beta, nor for herself without naming one
        assert.equal((await call('POST', '/api/v1/keys', asBea, { organization_id: String(ids.beta) })).status, 404)
        const own = await call('POST', '/api/v1/keys', asBea, {})
        assert.equal(own.status, 200)
        assert.equal(
          (await call('GET', '/api/v1/resources/beta/private/notes.txt', own.body.secret_key as string)).status,
          404,
        )
        assert.equal(
          (
            await call('POST', '/api/v1/keys', oaKey, {
              access_as_user_id: String(ids.bea),
              organization_id: String(ids.beta),
            })
          ).status,
          404,
        )
        assert.equal((await call('DELETE', `/api/v1/organizations/acme/users/${ids.bea}`, oaKey)).status, 200)
      })
    })

    describe('write access to one shared folder is not write access to its organization (item 3)', () => {
      test('an outsider with write on a shared folder cannot create a controller folder there', async () => {
        const ann = await signIn('ann@example.com')
        assert.equal(
          (await call('POST', '/api/v1/resources', ann, { path: '/beta/shared', name: 'notes', type: '10' })).status,
          200,
          'she writes the shared folder',
        )
        const made = await call('POST', '/api/v1/resources', ann, { path: '/beta/shared', name: 'ann-ctl', type: '12' })
        assert.equal(made.status, 403, JSON.stringify(made.body))
        assert.equal(await findPath(server.core.db, '/beta/shared/ann-ctl'), null)
        // had it been made, a key for it would read all of beta
        assert.equal((await call('POST', '/api/v1/keys', ann, { controller_path: '/beta/shared/ann-ctl' })).status, 404)
      })

      test('an outsider cannot make a key for a controller in the shared folder', async () => {
        const ann = await signIn('ann@example.com')
        const made = await call('POST', '/api/v1/keys', ann, { controller_path: '/beta/shared/pi-b' })
        assert.equal(made.status, 403, JSON.stringify(made.body))
        if (typeof made.body.secret_key === 'string')
          assert.notEqual(
            (await call('GET', '/api/v1/resources/beta/private/notes.txt', made.body.secret_key)).status,
            200,
          )
      })

      test('an outsider cannot enter a PIN for a controller in the shared folder, so the device gets no key', async () => {
        const ann = await signIn('ann@example.com')
        const requested = await call('POST', '/api/v1/pins')
        assert.equal(requested.status, 200)
        const { pin, pin_code } = requested.body as { pin: number; pin_code: string }
        assert.equal((await call('PUT', `/api/v1/pins/${pin}`, ann, { controller: '/beta/shared/pi-b' })).status, 403)
        const polled = await call('GET', `/api/v1/pins/${pin}?pin_code=${pin_code}`)
        assert.equal(polled.status, 200)
        assert.equal(polled.body.secret_key, undefined)
      })

      test('a controller of another organization granted write on the shared folder cannot create a controller there', async () => {
        const piA = await createController(server.core, 'acme/pi-a')
        await grant(server.core, '/beta/shared', [...sharedWithAnn(), { to: { controller: piA.id }, level: 'write' }])
        assert.equal(
          (await call('POST', '/api/v1/resources', piA.key, { path: '/beta/shared', name: 'pi-a-data', type: '10' }))
            .status,
          200,
        )
        assert.equal(
          (await call('POST', '/api/v1/resources', piA.key, { path: '/beta/shared', name: 'pi-a-ctl', type: '12' }))
            .status,
          403,
        )
      })

      test('a member who may only read the organization cannot make a controller that writes all of it', async () => {
        await createOrg(server.core, 'gamma')
        await createOrgUser(server.core, 'gil@example.com', PASSWORD, 'gamma', false)
        await createOrgUser(server.core, 'gia@example.com', PASSWORD, 'gamma', true)
        const gil = await signIn('gil@example.com')
        const gia = await signIn('gia@example.com')
        assert.equal(
          (await call('POST', '/api/v1/resources', gia, { path: '/gamma/lab', name: 'pi-g', type: '12' })).status,
          200,
        )
        // people read the organization, its controllers write it; gil writes one lab folder
        await grant(server.core, '/gamma', [
          { to: 'members', level: 'read' },
          { to: 'controllers', level: 'write' },
        ])
        await grant(server.core, '/gamma/lab', [
          { to: 'members', level: 'write' },
          { to: 'controllers', level: 'write' },
        ])
        assert.equal(
          (await call('POST', '/api/v1/resources', gil, { path: '/gamma/lab', name: 'data', type: '10' })).status,
          200,
        )
        assert.equal(
          (await call('POST', '/api/v1/resources', gil, { path: '/gamma/lab', name: 'gil-ctl', type: '12' })).status,
          403,
        )
        assert.equal((await call('POST', '/api/v1/keys', gil, { controller_path: '/gamma/lab/pi-g' })).status, 403)
        const { pin } = (await call('POST', '/api/v1/pins')).body as { pin: number }
        assert.equal((await call('PUT', `/api/v1/pins/${pin}`, gil, { controller: '/gamma/lab/pi-g' })).status, 403)
        // the organization's admin may, as before
        assert.equal((await call('POST', '/api/v1/keys', gia, { controller_path: '/gamma/lab/pi-g' })).status, 200)
      })

      test("the organization's own members still create controllers, keys and enter PINs there", async () => {
        const bea = await signIn('bea@example.com')
        assert.equal(
          (await call('POST', '/api/v1/resources', bea, { path: '/beta/shared', name: 'bea-ctl', type: '12' })).status,
          200,
        )
        const key = await call('POST', '/api/v1/keys', bea, { controller_path: '/beta/shared/bea-ctl' })
        assert.equal(key.status, 200)
        assert.equal(
          (await call('GET', '/api/v1/resources/beta/private/notes.txt', key.body.secret_key as string)).status,
          200,
          'an org controller reads its organization',
        )
        const { pin, pin_code } = (await call('POST', '/api/v1/pins')).body as { pin: number; pin_code: string }
        assert.equal((await call('PUT', `/api/v1/pins/${pin}`, bea, { controller: '/beta/shared/pi-b' })).status, 200)
        assert.match(String((await call('GET', `/api/v1/pins/${pin}?pin_code=${pin_code}`)).body.secret_key), /^tdl_/)
      })
    })
  })
}
