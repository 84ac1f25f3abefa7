// Signing in, sessions with CSRF, API keys over HTTP Basic, and MQTT tokens for browsers.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { WebSocket } from 'ws'
import { createOrgUser } from '../../core/admin.ts'
import { issueToken } from '../../core/accounts/tokens.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { closed, connect, endAll, granted, refusalCode } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { basicAuth } from '../helpers/http.ts'

const basic = (key: string) => ({ authorization: basicAuth(key, 'rhizo-client-0.1') })

for (const provider of providers) {
  describe(`HTTP authentication on ${provider}`, () => {
    let server: TestServer
    let controllerKey: string
    let userKey: string

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, {
        orgs: ['acme', 'beta'],
        users: { ann: {}, target: { key: false } },
        controllers: ['acme/pi-1'],
      })
      controllerKey = f.controllers['acme/pi-1'].key
      userKey = f.users.ann.key
    })
    after(async () => {
      endAll()
      await server.close()
    })

    async function signIn(email: string, password: string) {
      return fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email_address: email, password }),
      })
    }

    test('signing in sets an HTTP-only session cookie and returns a CSRF token', async () => {
      const res = await signIn('ann@example.com', 'long enough pw')
      assert.equal(res.status, 200)
      const cookie = res.headers.get('set-cookie')!
      assert.match(cookie, /tendril_session=[^;]+; Max-Age=\d+; Path=\/; .*HttpOnly/)
      assert.match(cookie, /SameSite=Lax/)
      // plain HTTP (a Pi at http://192.168.x.y on a LAN): a Secure cookie would never be sent back
      assert.doesNotMatch(cookie, /Secure/)
      const body = (await res.json()) as { status: string; csrf_token: string }
      assert.equal(body.status, 'ok')
      assert.ok(body.csrf_token.length > 20)
    })

    test('behind a TLS-terminating proxy on this machine (X-Forwarded-Proto: https from loopback) the cookie is Secure', async () => {
      const res = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-proto': 'https' },
        body: new URLSearchParams({ email_address: 'ann@example.com', password: 'long enough pw' }),
      })
      assert.equal(res.status, 200)
      assert.match(res.headers.get('set-cookie')!, /; Secure/)
    })

    test("a wrong password is a 401 with rhizo's keys and an error code", async () => {
      const res = await signIn('ann@example.com', 'wrong password!')
      assert.equal(res.status, 401)
      assert.deepEqual(await res.json(), {
        status: 'error',
        message: 'wrong email address or password',
        error: { code: 'unauthorized', message: 'wrong email address or password' },
      })
    })

    test('repeated failed sign-ins for one account are refused with 429, even with the right password', async () => {
      for (let i = 0; i < 10; i++) assert.equal((await signIn('target@example.com', `guess number ${i}`)).status, 401)
      assert.equal((await signIn('target@example.com', 'long enough pw')).status, 429)
      assert.equal((await signIn('ann@example.com', 'long enough pw')).status, 200, 'other accounts are not locked out')
    })

    test('a burst of parallel guesses gets no more than the limit through to the password check', async () => {
      await createOrgUser(server.core, 'burst@example.com', 'long enough pw', 'acme', false)
      const statuses = await Promise.all(
        Array.from({ length: 25 }, (_, i) => signIn('burst@example.com', `parallel guess ${i}`).then((r) => r.status)),
      )
      assert.equal(statuses.filter((s) => s === 401).length, 10, 'ten wrong passwords were checked')
      assert.equal(statuses.filter((s) => s === 429).length, 15, 'the rest were refused unchecked')
    })

    test('successful sign-ins from one address do not count toward its limit', async () => {
      // the address limit is 50 failures in 15 minutes; a class signing in from one school network must not hit it
      for (let i = 0; i < 8; i++) assert.equal((await signIn('nobody@example.com', `no such account ${i}`)).status, 401)
      for (let i = 0; i < 45; i++)
        assert.equal((await signIn('ann@example.com', 'long enough pw')).status, 200, `sign-in ${i + 1}`)
    })

    test('failed sign-ins from one address are limited too (429), across accounts, without locking out other addresses', async () => {
      // the loopback proxy is trusted (app.ts), so X-Forwarded-For stands for the browser's address here
      const from = (address: string, email: string, password: string) =>
        fetch(`${server.url}/sign-in`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': address },
          body: new URLSearchParams({ email_address: email, password }),
        })
      for (let i = 0; i < 50; i++)
        assert.equal(
          (await from('198.51.100.7', `guess-${i}@example.com`, 'some password')).status,
          401,
          `failure ${i + 1}`,
        )
      const refused = await from('198.51.100.7', 'ann@example.com', 'long enough pw')
      assert.equal(refused.status, 429, 'the address is refused, even with the right password')
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'rate_limited')
      assert.equal(
        (await from('198.51.100.8', 'ann@example.com', 'long enough pw')).status,
        200,
        'another address signs in',
      )
      assert.equal((await signIn('ann@example.com', 'long enough pw')).status, 200, 'and so does this one')
    })

    test('a browser that holds a session signs in again, or as someone else, without a CSRF token; its old session ends', async () => {
      await createOrgUser(server.core, 'cat@example.com', 'long enough pw', 'acme', false)
      const first = await signIn('ann@example.com', 'long enough pw')
      const annCookie = first.headers.get('set-cookie')!.split(';')[0]!
      const again = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: {
          cookie: annCookie,
          'content-type': 'application/x-www-form-urlencoded',
          origin: server.url,
          'sec-fetch-site': 'same-origin',
        },
        body: new URLSearchParams({ email_address: 'cat@example.com', password: 'long enough pw' }),
      })
      assert.equal(again.status, 200)
      const catCookie = again.headers.get('set-cookie')!.split(';')[0]!
      const current = (await (
        await fetch(`${server.url}/api/v1/users/current`, { headers: { cookie: catCookie } })
      ).json()) as { email_address: string }
      assert.equal(current.email_address, 'cat@example.com')
      assert.equal(
        (await fetch(`${server.url}/api/v1/mqtt-info`, { headers: { cookie: annCookie } })).status,
        401,
        'the replaced session is over',
      )
      // a wrong password leaves the session it came with alone
      const wrong = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: { cookie: catCookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email_address: 'ann@example.com', password: 'not the password' }),
      })
      assert.equal(wrong.status, 401)
      assert.equal((await fetch(`${server.url}/api/v1/mqtt-info`, { headers: { cookie: catCookie } })).status, 200)
    })

    test('a sign-in form posted from another site is refused (login CSRF); from this site or a non-browser client it works', async () => {
      const post = (headers: Record<string, string>) =>
        fetch(`${server.url}/sign-in`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: new URLSearchParams({ email_address: 'ann@example.com', password: 'long enough pw' }),
        })
      const crossSite: Record<string, string>[] = [
        { origin: 'https://evil.example' },
        { origin: 'null' },
        { origin: server.url.replace('127.0.0.1', 'localhost') },
        { 'sec-fetch-site': 'cross-site' },
      ]
      for (const headers of crossSite) {
        const res = await post(headers)
        assert.equal(res.status, 403, JSON.stringify(headers))
        assert.equal(res.headers.get('set-cookie'), null, 'no session is made')
      }
      assert.equal((await post({ origin: server.url, 'sec-fetch-site': 'same-origin' })).status, 200)
      assert.equal((await post({})).status, 200, "rhizo's client and curl send no Origin")
    })

    test('malformed bodies get a 400 with a JSON error', async () => {
      const res = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"email_address": ',
      })
      assert.equal(res.status, 400)
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid')
      const missing = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
      assert.equal(missing.status, 400)
    })

    test('a session request that changes state needs the CSRF token', async () => {
      const res = await signIn('ann@example.com', 'long enough pw')
      const cookie = res.headers.get('set-cookie')!.split(';')[0]!
      const { csrf_token } = (await res.json()) as { csrf_token: string }
      const without = await fetch(`${server.url}/sign-out`, { method: 'POST', headers: { cookie } })
      assert.equal(without.status, 403)
      const withToken = await fetch(`${server.url}/sign-out`, {
        method: 'POST',
        headers: { cookie, 'x-csrf-token': csrf_token },
      })
      assert.equal(withToken.status, 200)
      const after = await fetch(`${server.url}/api/v1/mqtt-info`, { headers: { cookie } })
      assert.equal(after.status, 401, 'the session ended with sign-out')
    })

    test('API keys authenticate as the HTTP Basic password; a bad key is a 401', async () => {
      assert.equal((await fetch(`${server.url}/api/v1/mqtt-info`, { headers: basic(userKey) })).status, 200)
      assert.equal((await fetch(`${server.url}/api/v1/mqtt-info`, { headers: basic(controllerKey) })).status, 403)
      assert.equal(
        (await fetch(`${server.url}/api/v1/mqtt-info`, { headers: basic('tdl_' + 'X'.repeat(50)) })).status,
        401,
      )
      // without credentials: a token for an anonymous viewer of public folders (mqtt-anonymous.test.ts)
      const viewer = await fetch(`${server.url}/api/v1/mqtt-info`)
      assert.equal(viewer.status, 200)
      assert.equal(((await viewer.json()) as { anonymous?: boolean }).anonymous, true)
    })

    test("a signed-in browser gets a token that opens MQTT over the /mqtt WebSocket with its user's access", async () => {
      const res = await signIn('ann@example.com', 'long enough pw')
      const cookie = res.headers.get('set-cookie')!.split(';')[0]!
      const info = (await (await fetch(`${server.url}/api/v1/mqtt-info`, { headers: { cookie } })).json()) as Record<
        string,
        string | number
      >
      assert.equal(info.path, '/mqtt')
      assert.equal(info.port, Number(new URL(server.url).port))
      const client = await connect(`ws://${info.host}:${info.port}${info.path}`, String(info.token), {
        username: 'token',
        clientId: String(info.clientId),
      })
      assert.equal(await granted(client, 'acme/#'), 0)
      assert.equal(await granted(client, 'beta/#'), 128)
    })

    test("signing out closes the browser's MQTT and websocket connections within a second or two, and its token opens no new one", async () => {
      const res = await signIn('ann@example.com', 'long enough pw')
      const cookie = res.headers.get('set-cookie')!.split(';')[0]!
      const { csrf_token: csrf } = (await res.json()) as { csrf_token: string }
      const info = (await (await fetch(`${server.url}/api/v1/mqtt-info`, { headers: { cookie } })).json()) as Record<
        string,
        string | number
      >
      const mqttClient = await connect(server.wsUrl, String(info.token), {
        username: 'token',
        clientId: String(info.clientId),
      })
      const mqttClosed = closed(mqttClient)
      const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/v1/websocket`, { headers: { cookie } })
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
      const wsClosed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
      // another browser of the same user stays
      const other = await signIn('ann@example.com', 'long enough pw')
      const otherToken = (await (
        await fetch(`${server.url}/api/v1/mqtt-info`, {
          headers: { cookie: other.headers.get('set-cookie')!.split(';')[0]! },
        })
      ).json()) as Record<string, string>
      const stayer = await connect(server.wsUrl, otherToken.token!, {
        username: 'token',
        clientId: otherToken.clientId!,
      })

      const signedOutAt = Date.now()
      const out = await fetch(`${server.url}/sign-out`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } })
      assert.equal(out.status, 200)
      assert.equal(
        await Promise.race([wsClosed, new Promise((resolve) => setTimeout(resolve, 5000, 'still open'))]),
        4001,
      )
      assert.equal(await mqttClosed, true, 'the MQTT connection is closed')
      assert.ok(Date.now() - signedOutAt < 3000, `closed after ${Date.now() - signedOutAt} ms`)
      assert.equal(await refusalCode(server.wsUrl, String(info.token), { username: 'token' }), 4)
      assert.ok(stayer.connected, 'the other browser session keeps its connection')
    })

    test('a forged or expired token is refused with CONNACK 4', async () => {
      const user = await server.core.db.user.findFirstOrThrow({ where: { email: 'ann@example.com' } })
      const good = issueToken(server.core, user.id)
      const forged = good.slice(0, -2) + (good.endsWith('00') ? '11' : '00')
      assert.equal(await refusalCode(server.wsUrl, forged, { username: 'token' }), 4)
      assert.equal(
        await refusalCode(server.wsUrl, issueToken(server.core, user.id, { ttlMs: -1000 }), { username: 'token' }),
        4,
      )
      assert.equal(await refusalCode(server.wsUrl, good, { username: 'token' }), 0)
    })
  })
}
