// --trust-proxy: whose X-Forwarded-* headers stand for the client. Behind a load balancer on another
// host its address must be trusted, or every browser would share the balancer's sign-in limit; a
// client that no trusted proxy speaks for must not choose its address or scheme by sending headers.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTendril } from '../../server.ts'
import { openTestCore } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'

async function serve(trustProxy: string) {
  const core = await openTestCore('sqlite', { 'trust-proxy': trustProxy })
  const tendril = await createTendril(core)
  const { port } = await tendril.listen({ port: 0, host: '127.0.0.1', mqttPort: null })
  await fixture(core, { org: 'acme', users: { ann: { key: false } } })
  return { core, tendril, url: `http://127.0.0.1:${port}` }
}

// a failed sign-in for an account of its own each time: the per-account limit stays out of it
const failSignIn = (url: string, i: number, headers: Record<string, string>) =>
  fetch(`${url}/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ email_address: `nobody-${i}@example.com`, password: 'wrong' }),
  })

const mqttInfoProtocol = async (url: string, headers: Record<string, string>) => {
  const key = await fetch(`${url}/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ email_address: 'ann@example.com', password: 'long enough pw' }),
  })
  const cookie = key.headers.get('set-cookie')!.split(';')[0]!
  const info = (await (await fetch(`${url}/api/v1/mqtt-info`, { headers: { cookie, ...headers } })).json()) as {
    protocol: string
  }
  return { protocol: info.protocol, secureCookie: /;\s*secure/i.test(key.headers.get('set-cookie')!) }
}

for (const [setting, trusted] of [
  ['127.0.0.1', true], // the balancer's own address (here the test's loopback)
  ['10.0.0.0/8, 127.0.0.0/8', true],
  ['1', true], // one hop
  ['10.0.0.0/8', false], // a proxy elsewhere: this client speaks for itself
  ['false', false],
] as const) {
  describe(`--trust-proxy ${setting}`, () => {
    let server: Awaited<ReturnType<typeof serve>>
    before(async () => (server = await serve(setting)))
    after(async () => {
      await server?.tendril.close()
      await server?.core.cleanup()
    })

    // first: the next test uses up the address limit when the headers are ignored
    test(
      trusted ? 'X-Forwarded-Proto https makes the session cookie secure and MQTT wss' : 'X-Forwarded-Proto is ignored',
      async () => {
        const seen = await mqttInfoProtocol(server.url, {
          'x-forwarded-proto': 'https',
          'x-forwarded-for': '192.0.2.1',
        })
        assert.deepEqual(
          seen,
          trusted ? { protocol: 'wss', secureCookie: true } : { protocol: 'ws', secureCookie: false },
        )
      },
    )

    test(
      trusted
        ? 'X-Forwarded-For is the client: addresses are limited apart'
        : 'X-Forwarded-For is ignored: the sender is limited by its own address',
      async () => {
        // the address limit is 50 failed sign-ins; each one here claims a different address
        for (let i = 0; i < 50; i++)
          assert.equal((await failSignIn(server.url, i, { 'x-forwarded-for': `198.51.100.${i}` })).status, 401)
        assert.equal(
          (await failSignIn(server.url, 50, { 'x-forwarded-for': '203.0.113.9' })).status,
          trusted ? 401 : 429,
        )
      },
    )
  })
}
