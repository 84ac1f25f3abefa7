// A bounded run of the OpenAPI fuzzer (test/helpers/openapi-fuzz.ts; the long run is
// bench/faults/openapi-fuzz.ts): requests generated from /api/v1/openapi.json, valid and broken, with
// no credentials, sessions, a user key and a controller key. No 5xx, every answer as documented, and
// no uncaught exception or unhandled rejection in the server (failOnProcessFaults).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createAdmin, createController, createKeyForUser, createOrg } from '../../core/admin.ts'
import { providers } from '../helpers/core.ts'
import { basicAuth } from '../helpers/http.ts'
import { fuzzOpenApi, type OpenApiDocument } from '../helpers/openapi-fuzz.ts'
import { failOnProcessFaults } from '../helpers/process-faults.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

failOnProcessFaults()
const ADMIN = { email: 'root@example.com', password: 'a long enough password' }
const SECONDS = Number(process.env.TENDRIL_FUZZ_SECONDS ?? 15)

for (const provider of providers) {
  describe(`OpenAPI fuzzing on ${provider}`, () => {
    let server: TestServer
    before(async () => {
      server = await startTestServer(provider)
      await createAdmin(server.core, ADMIN.email, ADMIN.password)
      await createOrg(server.core, 'acme')
    })
    after(async () => {
      await server?.close()
    })

    // found by the fuzzer: PostgreSQL refused the number in the query (a 500)
    test('an id beyond 32 bits is a 400, not a database error', async () => {
      const key = basicAuth((await createKeyForUser(server.core, ADMIN.email, 'acme')).key)
      const big = 3308341537719491
      const attempts: [string, string, unknown?][] = [
        ['GET', `/api/v1/keys?access_as_controller_id=${big}`],
        ['POST', '/api/v1/keys', { access_as_controller_id: big }],
        ['DELETE', `/api/v1/keys/${big}`],
        ['GET', `/api/v1/users/${big}`],
        ['PUT', `/api/v1/organizations/acme/users/${big}`, { is_admin: 0 }],
        ['POST', '/api/v1/organizations/acme/users', { user_id: big }],
      ]
      const orgs = await fetch(`${server.url}/api/v1/organizations/999999999999999999999999999999/users`, {
        headers: { authorization: key },
      })
      assert.equal(orgs.status, 404, 'an organization id past 32 bits names none')
      for (const [method, path, body] of attempts) {
        const res = await fetch(server.url + path, {
          method,
          headers: { authorization: key, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        })
        assert.equal(res.status, 400, `${method} ${path}: ${await res.text()}`)
      }
    })

    // found by the fuzzer: a JSON null parent reached the path lookup (a 500)
    test('a PUT with parent null is a 400', async () => {
      const { key } = await createController(server.core, 'acme/pi-parent')
      const res = await fetch(`${server.url}/api/v1/resources/acme/pi-parent/log`, {
        method: 'PUT',
        headers: { authorization: basicAuth(key), 'content-type': 'application/json' },
        body: JSON.stringify({ value: '1', parent: null }),
      })
      assert.equal(res.status, 400, await res.text())
    })

    // found by the fuzzer: a system admin's key for an organization id that is none broke a foreign key (a 500)
    test("a system admin's key for an id that is no organization is a 404", async () => {
      const signIn = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email_address: ADMIN.email, password: ADMIN.password }),
      })
      const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!
      const { csrf_token } = (await signIn.json()) as { csrf_token: string }
      const { key } = await createController(server.core, 'acme/pi-keys')
      const folder = (await (
        await fetch(`${server.url}/api/v1/resources/self?meta=1`, { headers: { authorization: basicAuth(key) } })
      ).json()) as { id: number }
      for (const organization_id of [987654, folder.id]) {
        const res = await fetch(`${server.url}/api/v1/keys`, {
          method: 'POST',
          headers: { cookie, 'x-csrf-token': csrf_token, 'content-type': 'application/json' },
          body: JSON.stringify({ organization_id }),
        })
        assert.equal(res.status, 404, `organization_id ${organization_id}: ${await res.text()}`)
      }
    })

    // found by the fuzzer: PostgreSQL refuses a NUL in text and JSON, mid-query (a 500); both databases refuse it now
    test('a NUL character in a field is a 400 (in an organization name, a 404); a sequence value may hold one', async () => {
      const { key } = await createController(server.core, 'acme/pi-nul')
      const headers = { authorization: basicAuth(key), 'content-type': 'application/json' }
      const nul = 'a\u0000b'
      const signIn = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email_address: nul, password: nul }),
      })
      assert.equal(signIn.status, 400, await signIn.text())
      const refused: [string, string, unknown?][] = [
        ['GET', '/api/v1/messages?folder_path=acme/pi-nul&type=a%00'],
        ['POST', '/api/v1/messages', { folder_path: 'acme/pi-nul', type: 'note', parameters: { text: nul } }],
        ['PUT', '/api/v1/resources/acme/pi-nul', { status: { text: nul } }],
        ['PUT', '/api/v1/resources/acme/pi-nul', { user_attributes: { [nul]: 1 } }],
        ['POST', '/api/v1/resources', { path: 'acme/pi-nul', name: 'f', type: 10, system_attributes: { a: nul } }],
      ]
      for (const [method, path, body] of refused) {
        const res = await fetch(server.url + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        })
        assert.equal(res.status, 400, `${method} ${path}: ${await res.text()}`)
      }
      const member = await createKeyForUser(server.core, ADMIN.email, 'acme').catch(() => undefined)
      const org = await fetch(`${server.url}/api/v1/organizations/a%00b`, {
        headers: member ? { authorization: basicAuth(member.key) } : headers,
      })
      assert.ok([403, 404].includes(org.status), `organization a\\0b: ${org.status} ${await org.text()}`)
      const value = await fetch(`${server.url}/api/v1/resources/acme/pi-nul/log`, {
        method: 'PUT',
        headers: { ...headers, 'x-forwarded-for': '10.0.0.1' },
        body: JSON.stringify({ value: nul }),
      })
      assert.equal(value.status, 200, 'a value is stored as bytes')
    })

    test(
      `${SECONDS} s of generated requests: no 5xx, nothing undocumented`,
      { timeout: (SECONDS + 30) * 1000 },
      async () => {
        const document = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as OpenApiDocument
        const seed = Number(process.env.TENDRIL_FUZZ_SEED ?? Date.now() % 1_000_000)
        const result = await fuzzOpenApi({
          url: server.url,
          document,
          admin: ADMIN,
          org: 'acme',
          seed,
          ms: SECONDS * 1000,
          alive: () => true,
        })
        const statuses = new Set([...result.statuses.keys()].map((k) => k.split(' ').at(-1)))
        assert.ok(result.requests > 50, `only ${result.requests} requests`)
        assert.ok(
          statuses.has('200') && statuses.has('400') && statuses.has('401') && statuses.has('404'),
          `statuses seen: ${[...statuses].join(', ')}`,
        )
        assert.deepEqual(result.failures, [], `seed ${seed}`)
        assert.equal((await fetch(`${server.url}/health`)).status, 200)
      },
    )
  })
}
