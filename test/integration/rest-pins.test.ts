// REST /api/v1/pins: a controller without a key asks for a PIN, a person enters it for a controller
// folder, and the controller receives its path and a working key exactly once (rhizo's contract).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { findPath } from '../../core/resources/tree.ts'
import { PIN_LIMITS } from '../../http/routes/pins.ts'
import { providers } from '../helpers/core.ts'
import { fixture, grant } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

type Auth = { key: string } | { cookie: string; csrf: string }
interface Answer {
  status: number
  body: Record<string, unknown>
}

for (const provider of providers) {
  describe(`REST PIN provisioning on ${provider}`, () => {
    let server: TestServer
    let ann: Auth
    let piKey: string
    let betaUser: Auth

    const call = async (method: string, path: string, auth?: Auth, body?: Record<string, string>): Promise<Answer> => {
      const headers: Record<string, string> = {}
      if (auth && 'key' in auth) headers.authorization = basicAuth(auth.key)
      if (auth && 'cookie' in auth) Object.assign(headers, { cookie: auth.cookie, 'x-csrf-token': auth.csrf })
      if (body) headers['content-type'] = 'application/x-www-form-urlencoded'
      const res = await fetch(server.url + path, {
        method,
        headers,
        body: body ? new URLSearchParams(body) : undefined,
      })
      return { status: res.status, body: (await res.json()) as Record<string, unknown> }
    }
    const signIn = async (email: string): Promise<Auth> => {
      const res = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        body: new URLSearchParams({ email_address: email, password: 'long enough pw' }),
      })
      assert.equal(res.status, 200)
      return {
        cookie: res.headers.getSetCookie()[0]!.split(';')[0]!,
        csrf: ((await res.json()) as { csrf_token: string }).csrf_token,
      }
    }
    const requestPin = async () => {
      const answer = await call('POST', '/api/v1/pins')
      assert.equal(answer.status, 200)
      return answer.body as { status: string; pin: number; pin_code: string }
    }
    const poll = (pin: number, code: string) => call('GET', `/api/v1/pins/${pin}?pin_code=${encodeURIComponent(code)}`)
    const backdate = async (pin: number, minutes: number) => {
      await server.core.db.pin.updateMany({
        where: { pin },
        data: { createdAt: new Date(Date.now() - minutes * 60_000) },
      })
    }

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, {
        orgs: ['acme', 'beta'],
        users: { ann: { key: false }, bea: { org: 'beta', key: false }, gus: { key: false } },
        controllers: ['acme/lab/pi-1', 'acme/lab/pi-2', 'acme/lab/pi-3', 'acme/readonly/pi-r', 'beta/pi-b'],
      })
      piKey = f.controllers['acme/lab/pi-1'].key
      await grant(server.core, '/acme/readonly', [{ to: 'members', level: 'read' }])
      ann = await signIn('ann@example.com')
      betaUser = await signIn('bea@example.com')
    })
    after(async () => {
      await server.close()
    })

    test('a controller gets a 6-digit PIN and a long code without credentials; only a hash of the code is stored', async () => {
      const { status, pin, pin_code } = await requestPin()
      assert.equal(status, 'ok')
      assert.ok(Number.isInteger(pin) && pin >= 100_000 && pin <= 999_999)
      assert.ok(pin_code.length >= 40)
      const rows = await server.core.db.pin.findMany({ where: { pin } })
      assert.equal(rows.length, 1)
      assert.ok(!JSON.stringify(rows).includes(pin_code))
    })

    test('polling before anyone entered the PIN answers just {"status":"ok"}', async () => {
      const { pin, pin_code } = await requestPin()
      assert.deepEqual(await poll(pin, pin_code), { status: 200, body: { status: 'ok' } })
    })

    test('end to end: a user enters the PIN, the controller receives its path and a working key once', async () => {
      const { pin, pin_code } = await requestPin()
      assert.deepEqual(await call('PUT', `/api/v1/pins/${pin}`, ann, { controller: '/acme/lab/pi-2' }), {
        status: 200,
        body: { status: 'ok' },
      })
      const first = await poll(pin, pin_code)
      assert.equal(first.status, 200)
      assert.equal(first.body.status, 'ok')
      assert.equal(first.body.controller_path, '/acme/lab/pi-2')
      const key = first.body.secret_key as string
      assert.match(key, /^tdl_[A-Z0-9]{50}$/)
      // the key acts as that controller
      const messages = await fetch(`${server.url}/api/v1/messages?folder_path=/acme/lab/pi-2`, {
        headers: { authorization: basicAuth(key) },
      })
      assert.equal(messages.status, 200)
      const controller = (await findPath(server.core.db, '/acme/lab/pi-2'))!.at(-1)!
      const row = await server.core.db.key.findFirstOrThrow({
        where: { accessAsControllerId: controller.id },
        orderBy: { id: 'desc' },
      })
      assert.equal(
        row.createdById,
        (await server.core.db.user.findFirstOrThrow({ where: { email: 'ann@example.com' } })).id,
      )
      // and never again
      assert.deepEqual(await poll(pin, pin_code), { status: 200, body: { status: 'ok' } })
    })

    test('concurrent polls after entry hand out exactly one key', async () => {
      const { pin, pin_code } = await requestPin()
      assert.equal((await call('PUT', `/api/v1/pins/${pin}`, ann, { controller: 'acme/lab/pi-3' })).status, 200)
      const controller = (await findPath(server.core.db, '/acme/lab/pi-3'))!.at(-1)!
      const before = await server.core.db.key.count({ where: { accessAsControllerId: controller.id } })
      const answers = await Promise.all(Array.from({ length: 6 }, () => poll(pin, pin_code)))
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200, 200, 200, 200, 200],
      )
      assert.equal(answers.filter((a) => 'secret_key' in a.body).length, 1)
      assert.equal(await server.core.db.key.count({ where: { accessAsControllerId: controller.id } }), before + 1)
    })

    test('an unknown PIN or a wrong code is 404; a PIN that is not a number is 400', async () => {
      const { pin, pin_code } = await requestPin()
      assert.equal((await poll(pin, pin_code.slice(0, -1) + (pin_code.endsWith('A') ? 'B' : 'A'))).status, 404)
      assert.equal((await poll(pin === 999_999 ? 100_000 : pin + 1, pin_code)).status, 404)
      assert.equal((await call('GET', `/api/v1/pins/${pin}`)).status, 400)
      assert.equal((await poll(Number.NaN, pin_code)).status, 400)
      assert.equal((await call('PUT', '/api/v1/pins/12', ann, { controller: '/acme/lab/pi-1' })).status, 404)
    })

    test('entering a PIN needs a signed-in user who can write the controller folder', async () => {
      const { pin, pin_code } = await requestPin()
      const path = `/api/v1/pins/${pin}`
      assert.equal((await call('PUT', path, undefined, { controller: '/acme/lab/pi-1' })).status, 401)
      assert.equal((await call('PUT', path, { key: piKey }, { controller: '/acme/lab/pi-1' })).status, 403)
      assert.equal((await call('PUT', path, ann, { controller: '/acme/readonly/pi-r' })).status, 403)
      // another organization's controller is not found, like one that does not exist
      assert.equal((await call('PUT', path, ann, { controller: '/beta/pi-b' })).status, 404)
      assert.equal((await call('PUT', path, ann, { controller: '/acme/lab/nothing-here' })).status, 404)
      // a folder, not a controller
      assert.equal((await call('PUT', path, ann, { controller: '/acme/lab' })).status, 400)
      assert.equal((await call('PUT', path, ann, {})).status, 400)
      // a session request without its CSRF token is refused
      const noCsrf = await fetch(server.url + path, {
        method: 'PUT',
        headers: { cookie: (ann as { cookie: string }).cookie },
        body: new URLSearchParams({ controller: '/acme/lab/pi-1' }),
      })
      assert.equal(noCsrf.status, 403)
      // none of that entered the PIN
      assert.deepEqual(await poll(pin, pin_code), { status: 200, body: { status: 'ok' } })
      assert.equal((await call('PUT', path, betaUser, { controller: '/beta/pi-b' })).status, 200)
    })

    test('a PIN already entered cannot be redirected to another controller', async () => {
      const { pin } = await requestPin()
      assert.equal((await call('PUT', `/api/v1/pins/${pin}`, ann, { controller: '/acme/lab/pi-1' })).status, 200)
      const again = await call('PUT', `/api/v1/pins/${pin}`, betaUser, { controller: '/beta/pi-b' })
      assert.equal(again.status, 409)
      assert.equal(again.body.message, 'PIN has already been entered.')
    })

    test("after 30 minutes a PIN has expired: 410 with rhizo's message for polls and entries", async () => {
      const { pin, pin_code } = await requestPin()
      await backdate(pin, 31)
      assert.deepEqual(await poll(pin, pin_code), {
        status: 410,
        body: { status: 'error', message: 'PIN has expired.', error: { code: 'expired', message: 'PIN has expired.' } },
      })
      const entered = await call('PUT', `/api/v1/pins/${pin}`, ann, { controller: '/acme/lab/pi-1' })
      assert.equal(entered.status, 410)
      assert.equal(entered.body.message, 'PIN has expired.')
      // entered in time but collected too late: no key
      const late = await requestPin()
      assert.equal((await call('PUT', `/api/v1/pins/${late.pin}`, ann, { controller: '/acme/lab/pi-1' })).status, 200)
      await backdate(late.pin, 30)
      assert.equal((await poll(late.pin, late.pin_code)).status, 410)
    })

    test('guessing PINs is throttled per user (429)', async () => {
      const gus = await signIn('gus@example.com')
      const statuses = []
      for (let i = 0; i <= PIN_LIMITS.failedEntriesPerUser.max; i++)
        statuses.push((await call('PUT', `/api/v1/pins/${10 + i}`, gus, { controller: '/acme/lab/pi-1' })).status)
      assert.deepEqual(statuses, [...Array(PIN_LIMITS.failedEntriesPerUser.max).fill(404), 429])
      // other users are not affected
      assert.equal((await call('PUT', '/api/v1/pins/10', ann, { controller: '/acme/lab/pi-1' })).status, 404)
    })

    test('PIN requests are limited per address (429)', async () => {
      let last = 0
      for (let i = 0; i <= PIN_LIMITS.requestsPerAddress.max && last !== 429; i++)
        last = (await call('POST', '/api/v1/pins')).status
      assert.equal(last, 429)
      const refused = await call('POST', '/api/v1/pins')
      assert.equal(refused.status, 429)
      assert.equal(refused.body.status, 'error')
    })
  })
}
