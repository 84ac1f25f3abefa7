// Bad input to /api/v1/resources is a clear 4xx that stores nothing, and an upload over the limit is
// refused (413) without the server reading it all — the server stays healthy for everyone else.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth, eventually } from '../helpers/http.ts'
import { b64, resourceClient, type ResourceClient } from '../helpers/resources.ts'
import { failOnProcessFaults } from '../helpers/process-faults.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const LIMIT = 64 * 1024

/** Every file under dir, recursively (blobs and temp files alike). */
function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name))
  } catch {
    return []
  }
}

interface RawAnswer {
  status?: number
  body?: string
  /** the server closed the connection while the client was still sending */
  reset?: boolean
  sentBytes: number
}

/**
 * A PUT whose body is written chunk by chunk as the server accepts it; stops at the first answer.
 * declaredLength sends that Content-Length up front (and no body unless the server asks for it).
 */
function rawUpload(
  url: string,
  key: string,
  path: string,
  opts: { declaredLength?: number; chunks: number; chunkSize: number },
): Promise<RawAnswer> {
  const boundary = 'tendril-test-boundary'
  const head = Buffer.from(
    `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="big.bin"\r\ncontent-type: application/octet-stream\r\n\r\n`,
  )
  return new Promise((resolve) => {
    let sentBytes = 0
    let settled = false
    const done = (answer: Omit<RawAnswer, 'sentBytes'>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve({ ...answer, sentBytes })
    }
    // a server that waits for a body it should have refused fails the test instead of hanging it
    const timer = setTimeout(() => {
      done({})
      req.destroy()
    }, 10_000)
    const headers: Record<string, string> = {
      authorization: basicAuth(key),
      'content-type': `multipart/form-data; boundary=${boundary}`,
    }
    if (opts.declaredLength !== undefined) headers['content-length'] = String(opts.declaredLength)
    const req = request(`${url}/api/v1/resources${path}`, { method: 'PUT', headers }, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => done({ status: res.statusCode, body }))
      res.on('error', () => done({ status: res.statusCode, body }))
    })
    req.on('error', () => done({ reset: true }))
    if (opts.declaredLength !== undefined) {
      req.flushHeaders() // the answer should come before any of the body
      return
    }
    let i = 0
    const pump = () => {
      while (!settled && i < opts.chunks) {
        const chunk = i === 0 ? Buffer.concat([head, randomBytes(opts.chunkSize)]) : randomBytes(opts.chunkSize)
        i++
        sentBytes += chunk.length
        if (!req.write(chunk)) return void req.once('drain', pump)
      }
      if (!settled) req.end(`\r\n--${boundary}--\r\n`)
    }
    pump()
  })
}

failOnProcessFaults()

for (const provider of providers) {
  describe(`REST resources limits and bad input on ${provider}`, () => {
    let server: TestServer
    let ann: ResourceClient
    let annKey: string

    before(async () => {
      server = await startTestServer(provider, { config: { 'upload-limit': LIMIT } })
      annKey = (await fixture(server.core, { org: 'acme', users: { ann: {} } })).users.ann.key
      ann = resourceClient(server.url, annKey)
      assert.equal(
        (await ann.send('POST', '', { path: '/acme/files', name: 'target.bin', type: '20', data: b64('original') }))
          .status,
        200,
      )
    })
    after(() => server.close())

    const counts = async () => ({
      resources: await server.core.db.resource.count(),
      revisions: await server.core.db.resourceRevision.count(),
    })
    const blobDir = () => join(server.core.config.dataDir, 'blobs')
    const healthy = async () =>
      (await fetch(`${server.url}/health`)).status === 200 && (await ann.get('/acme/files/target.bin')).status === 200

    test('names with "/", "..", control characters or over 100 characters are refused with 400', async () => {
      const before = await counts()
      for (const name of [
        'a/b',
        '..',
        '.',
        'bad\u0001name',
        'tab\tname',
        'x'.repeat(101),
        '',
        ' padded ',
        'wild+card',
        '$SYS',
      ]) {
        const res = await ann.send('POST', '', { path: '/acme/files', name, type: '10' })
        assert.equal(res.status, 400, JSON.stringify(name))
        const body = (await res.json()) as { status: string; message: string; error: { code: string } }
        assert.equal(body.status, 'error')
        assert.equal(body.error.code, 'invalid')
      }
      assert.equal(
        (await ann.send('POST', '', { path: '/acme/files', name: 'x'.repeat(100), type: '10' })).status,
        200,
        '100 characters is fine',
      )
      assert.equal((await ann.send('PUT', '/acme/files/target.bin', { name: 'a\u007fb' })).status, 400)
      assert.equal((await ann.get('/acme/fi%01les')).status, 400)
      const after = await counts()
      assert.deepEqual(after, { ...before, resources: before.resources + 1 })
    })

    test('malformed bodies and bad fields are 400s that store nothing', async () => {
      const before = await counts()
      const badJson = await fetch(`${server.url}/api/v1/resources`, {
        method: 'POST',
        headers: { authorization: basicAuth(annKey), 'content-type': 'application/json' },
        body: '{"path": "/acme/files", "name": ',
      })
      assert.equal(badJson.status, 400)
      assert.equal(((await badJson.json()) as { status: string }).status, 'error')
      const badMultipart = await fetch(`${server.url}/api/v1/resources`, {
        method: 'POST',
        headers: { authorization: basicAuth(annKey), 'content-type': 'multipart/form-data' },
        body: 'no boundary',
      })
      assert.equal(badMultipart.status, 400)
      const bad: Record<string, unknown>[] = [
        { path: '/acme/files', name: 'f', type: 'spaceship' },
        { path: '/acme/files', name: 'f', type: '11' },
        { path: '/acme/files', name: 'f' },
        { name: 'f', type: '10' },
        { path: '/acme/files', type: '10' },
        { path: '/acme/files', name: 'f', type: '20', data: 'not base64!' },
        { path: '/acme/files', name: 'f', type: '20', data: b64('x'), creation_timestamp: 'yesterday' },
        { path: '/acme/files', name: 'f', type: '20', user_attributes: '{broken' },
        { path: '/acme/files', name: 'f', type: '20', user_attributes: '[1, 2]' },
        { path: '/acme/files', name: 's', type: '21' },
        { path: '/acme/files', name: 's', type: '21', data_type: '4' },
        { path: '/acme/files', name: 's', type: '21', data_type: '1', decimal_places: '-1' },
        { path: '/acme/files', name: 's', type: '21', system_attributes: '{"data_type": 1, "max_history": 0}' },
        { path: '/acme/files', name: 'folder', type: '10', data: b64('folders hold no bytes') },
        { path: '/acme/files/target.bin', name: 'inside-a-file', type: '10' },
      ]
      for (const body of bad) {
        const res = await ann.send('POST', '', body)
        assert.ok(res.status === 400 || res.status === 409, `${JSON.stringify(body)} answered ${res.status}`)
      }
      for (const body of [
        { data: 'not base64!' },
        { permissions: '{"no": "list"}' },
        { user_attributes: 'null' },
        { system_attributes: '"text"' },
        { status: '{}' },
      ]) {
        assert.equal((await ann.send('PUT', '/acme/files/target.bin', body)).status, 400, JSON.stringify(body))
      }
      const badQueries: [string, Record<string, string>][] = [
        ['/acme/files/target.bin', { rev: 'abc' }],
        ['/acme/files/target.bin', { rev: '-1' }],
        ['/acme/files/target.bin', { rev: '99999999999' }],
        ['/acme/files', { download: '1', ids: '99999999999' }],
        ['/acme/files', { type: 'nonsense' }],
      ]
      for (const [path, query] of badQueries)
        assert.equal((await ann.get(path, query)).status, 400, JSON.stringify(query))
      assert.deepEqual(await counts(), before)
      assert.equal(await (await ann.get('/acme/files/target.bin')).text(), 'original')
    })

    test('an upload declaring more than the limit is refused with 413 before any of it is read', async () => {
      const before = await counts()
      const answer = await rawUpload(server.url, annKey, '/acme/files/target.bin', {
        declaredLength: 50 * 1024 * 1024,
        chunks: 0,
        chunkSize: 0,
      })
      assert.equal(answer.status, 413)
      assert.equal(answer.sentBytes, 0)
      assert.equal((JSON.parse(answer.body!) as { error: { code: string } }).error.code, 'too_large')
      assert.ok(await healthy())
      assert.deepEqual(await counts(), before)
    })

    test('a streamed upload that passes the limit is cut off (413) and leaves no revision, blob or temp file', async () => {
      const before = await counts()
      const blobsBefore = filesUnder(blobDir()).length
      const answer = await rawUpload(server.url, annKey, '/acme/files/target.bin', {
        chunks: 400,
        chunkSize: 16 * 1024,
      })
      assert.ok(answer.status === 413 || answer.reset, `413 or a closed connection, got ${JSON.stringify(answer)}`)
      if (answer.status) assert.equal((JSON.parse(answer.body!) as { error: { code: string } }).error.code, 'too_large')
      assert.ok(
        answer.sentBytes < 400 * 16 * 1024,
        `the server stopped the upload early (client sent ${answer.sentBytes} bytes)`,
      )
      assert.ok(await healthy())
      assert.deepEqual(await counts(), before)
      assert.equal(filesUnder(blobDir()).length, blobsBefore, 'nothing was kept in the blob store')
      // just under the limit works, through the blob store
      const fits = randomBytes(LIMIT - 1)
      assert.equal((await ann.upload('PUT', '/acme/files/target.bin', {}, { name: 'x', bytes: fits })).status, 200)
      assert.ok(Buffer.from(await (await ann.get('/acme/files/target.bin')).arrayBuffer()).equals(fits))
    })

    test('a client that goes away midway leaves nothing behind: no revision, no blob, no temp file', async () => {
      const before = await counts()
      const blobsBefore = filesUnder(blobDir()).length
      const boundary = 'gone-midway'
      const req = request(`${server.url}/api/v1/resources/acme/files/target.bin`, {
        method: 'PUT',
        headers: {
          authorization: basicAuth(annKey),
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(LIMIT - 100),
        },
      })
      req.on('error', () => {})
      req.write(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="x.bin"\r\n\r\n`)
      req.write(randomBytes(20_000)) // more than inline-bytes: this one is on its way into the blob store
      await new Promise((r) => setTimeout(r, 300))
      req.destroy()
      assert.ok(await eventually(() => filesUnder(blobDir()).length === blobsBefore), 'the partial blob was removed')
      assert.ok(await healthy())
      assert.deepEqual(await counts(), before)
    })

    test('a multipart upload refused at its file part (no write access, named by the fields before it) is a 403, and the server stays up', async () => {
      await ann.send('POST', '', { path: '/acme', name: 'locked', type: '10' })
      const org = (await findPath(server.core.db, '/acme'))!.at(-1)!
      assert.equal(
        (await ann.send('PUT', '/acme/locked', { permissions: JSON.stringify([[110, org.id, 10]]) })).status,
        200,
      )
      const before = await counts()
      for (let i = 0; i < 3; i++) {
        const res = await ann
          .upload('POST', '', { path: '/acme/locked' }, { name: 'big.bin', bytes: randomBytes(LIMIT - 1024) })
          .catch((err: unknown) => err)
        // the answer comes while the file is still being sent: the client sees the 403 or the closed connection
        if (res instanceof Response) assert.equal(res.status, 403)
        assert.ok(await healthy(), `the server answers after refusal ${i + 1}`)
      }
      assert.deepEqual(await counts(), before)
    })

    test('a base64 body over the limit is 413 too, and so is a zip download that would pass it', async () => {
      const before = await counts()
      const res = await ann.send('PUT', '/acme/files/target.bin', { data: b64(randomBytes(LIMIT + 1)) })
      assert.equal(res.status, 413)
      const huge = await ann.send('PUT', '/acme/files/target.bin', { data: 'A'.repeat(LIMIT * 2) }, 'json')
      assert.equal(huge.status, 413)
      assert.deepEqual(await counts(), before)
      for (const name of ['a.bin', 'b.bin'])
        assert.equal(
          (await ann.send('POST', '', { path: '/acme/zip', name, type: '20', data: b64(randomBytes(40 * 1024)) }))
            .status,
          200,
        )
      const ids = [
        (await findPath(server.core.db, '/acme/zip/a.bin'))!.at(-1)!.id,
        (await findPath(server.core.db, '/acme/zip/b.bin'))!.at(-1)!.id,
      ]
      const zip = await ann.get('/acme/zip', { download: 1, ids: ids.join(',') })
      assert.equal(zip.status, 413)
      assert.equal((await ann.get('/acme/zip', { download: 1, ids: String(ids[0]) })).status, 200)
    })
  })
}
