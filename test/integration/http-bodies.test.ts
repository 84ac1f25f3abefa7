// Request bodies are bounded by who sends them, before they are read: a caller without credentials
// (or with a bad key) cannot make the server take in a large body, and the default limits hold —
// 64 MiB for a file upload, the same in base64 JSON or form bodies, 1 MiB for every other route.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { after, before, describe, test } from 'node:test'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { b64, resourceClient, type ResourceClient } from '../helpers/resources.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const MiB = 1024 * 1024
const DEFAULT_UPLOAD_LIMIT = 64 * MiB

interface Answer {
  status: number
  body: { status: string; message: string; error: { code: string } }
  connection?: string
}

/**
 * Sends only the headers of a request declaring a body of `length` bytes and waits for the answer:
 * a server that answers has refused the body without reading any of it (none was sent).
 */
function declareBody(url: string, method: string, headers: Record<string, string>, length: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, 'content-length': String(length) } }, (res) => {
      let text = ''
      res.on('data', (d) => (text += d))
      res.on('end', () => {
        clearTimeout(timer)
        req.destroy()
        resolve({ status: res.statusCode!, body: JSON.parse(text), connection: res.headers.connection })
      })
    })
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`${method} ${url}: no answer while the body was withheld; the server waits to read it`))
    }, 10_000)
    req.on('error', reject)
    req.flushHeaders()
  })
}

const json = { 'content-type': 'application/json' }
const form = { 'content-type': 'application/x-www-form-urlencoded' }
const multipart = { 'content-type': 'multipart/form-data; boundary=x' }

for (const provider of providers) {
  describe(`request body limits on ${provider}`, () => {
    let server: TestServer
    let ann: ResourceClient
    let annKey: string
    const resources = (path = '') => `${server.url}/api/v1/resources${path}`

    before(async () => {
      server = await startTestServer(provider) // the default --upload-limit
      annKey = (await fixture(server.core, { org: 'acme', users: { ann: {} } })).users.ann.key
      ann = resourceClient(server.url, annKey)
      assert.equal(
        (await ann.send('POST', '', { path: '/acme/files', name: 'target.txt', type: '20', data: b64('original') }))
          .status,
        200,
      )
    })
    after(() => server.close())

    test('a bad key is refused with 401 before any of a large body is read, and the connection closes', async () => {
      const badKey = { authorization: basicAuth('tdl_' + 'X'.repeat(50)) }
      for (const [method, url, type] of [
        ['PUT', resources('/acme/files/target.txt'), json],
        ['POST', resources(), form],
        ['PUT', resources('/acme/files/target.txt'), multipart],
        ['POST', `${server.url}/api/v1/keys`, json],
      ] as const) {
        const answer = await declareBody(url, method, { ...badKey, ...type }, 80 * MiB)
        assert.equal(answer.status, 401, `${method} ${url} ${type['content-type']}`)
        assert.equal(answer.body.error.code, 'unauthorized')
        assert.equal(answer.connection, 'close', 'the rest of the body is not read to keep the connection')
      }
      assert.equal(await (await ann.get('/acme/files/target.txt')).text(), 'original')
    })

    test('without credentials only a small body is taken: a larger one is refused with 401 unread, a small one still works', async () => {
      for (const [method, url, type] of [
        ['PUT', resources('/acme/files/target.txt'), json],
        ['POST', resources(), multipart],
        ['POST', `${server.url}/sign-in`, form],
        ['POST', `${server.url}/api/v1/pins`, json],
      ] as const) {
        const answer = await declareBody(url, method, type, 80 * MiB)
        assert.equal(answer.status, 401, `${method} ${url}`)
        assert.match(answer.body.message, /needs a key or a session/)
      }
      // just over the anonymous limit is refused as well; a sign-in form is far below it
      assert.equal((await declareBody(`${server.url}/sign-in`, 'POST', form, 64 * 1024 + 1)).status, 401)
      const signIn = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: form,
        body: new URLSearchParams({ email_address: 'ann@example.com', password: 'long enough pw' }),
      })
      assert.equal(signIn.status, 200)
      // a folder open to the public for writing takes a small anonymous write
      assert.equal((await ann.send('POST', '', { path: '/acme', name: 'guestbook', type: '10' })).status, 200)
      assert.equal(
        (await ann.send('PUT', '/acme/guestbook', { permissions: JSON.stringify([[100, null, 20]]) })).status,
        200,
      )
      assert.equal(
        (
          await resourceClient(server.url).send('POST', '', {
            path: '/acme/guestbook',
            name: 'hello.txt',
            type: '20',
            data: b64('hi'),
          })
        ).status,
        200,
      )
      assert.equal(await (await ann.get('/acme/guestbook/hello.txt')).text(), 'hi')
    })

    test('with a key, JSON and form bodies may carry a 64 MiB file in base64 and no more; other routes take 1 MiB; larger ones are 413 unread', async () => {
      const auth = { authorization: basicAuth(annKey) }
      const base64Of64MiB = Math.ceil(DEFAULT_UPLOAD_LIMIT / 3) * 4
      for (const type of [json, form]) {
        const over = await declareBody(
          resources('/acme/files/target.txt'),
          'PUT',
          { ...auth, ...type },
          base64Of64MiB + 64 * 1024 + 1,
        )
        assert.equal(over.status, 413)
        assert.equal(over.body.error.code, 'too_large')
        assert.equal(over.connection, 'close')
      }
      assert.equal((await declareBody(`${server.url}/api/v1/keys`, 'POST', { ...auth, ...json }, MiB + 1)).status, 413)
      assert.equal(
        (await declareBody(`${server.url}/api/v1/messages`, 'POST', { ...auth, ...form }, MiB + 1)).status,
        413,
      )
      // a multipart upload declaring more than 64 MiB (plus room for its framing) is refused unread too
      assert.equal(
        (
          await declareBody(
            resources('/acme/files/target.txt'),
            'PUT',
            { ...auth, ...multipart },
            DEFAULT_UPLOAD_LIMIT + 65 * 1024,
          )
        ).status,
        413,
      )
      assert.equal(await (await ann.get('/acme/files/target.txt')).text(), 'original')
    })

    test('the default upload limit is 64 MiB: a file of exactly 64 MiB is stored, one byte more is refused with 413', async () => {
      const exactly = randomBytes(DEFAULT_UPLOAD_LIMIT)
      assert.equal(
        (await ann.upload('PUT', '/acme/files/target.txt', {}, { name: 'big.bin', bytes: exactly })).status,
        200,
      )
      const back = await ann.get('/acme/files/target.txt')
      assert.equal(back.headers.get('content-length'), String(DEFAULT_UPLOAD_LIMIT))
      assert.ok(Buffer.from(await back.arrayBuffer()).equals(exactly))
      const more = await ann
        .upload(
          'PUT',
          '/acme/files/target.txt',
          {},
          { name: 'big.bin', bytes: Buffer.concat([exactly, Buffer.from([0])]) },
        )
        .catch((err: unknown) => err)
      // the server answers 413 as soon as the limit is passed; the client may see that or the closed connection
      if (more instanceof Response) assert.equal(more.status, 413)
      else assert.ok(more instanceof Error)
      const revisions = await server.core.db.resourceRevision.findMany({
        where: { resource: { name: 'target.txt' } },
        select: { size: true },
      })
      assert.deepEqual(
        revisions.map((r) => r.size),
        [8, DEFAULT_UPLOAD_LIMIT],
        'the larger upload left no revision',
      )
    })
  })
}
