// Attacks on the HTTP doors, performed against a real server (issue 24, items 4, 5 and 7):
// cross-site websocket hijacking with the session cookie, anonymous uploads reaching the blob store
// (chunked bodies past the 64 KiB limit, a file part sent before the path that says where it goes),
// and names with "\" or ":" that a zip download turns into entries escaping their folder.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import mqtt from 'mqtt'
import { WebSocket } from 'ws'
import { liveKey } from '../../core/resources/tree.ts'
import { ResourceType } from '../../core/resources/types.ts'
import { providers } from '../helpers/core.ts'
import { fixture, grant } from '../helpers/fixtures.ts'
import { basicAuth, eventually } from '../helpers/http.ts'
import { b64, resourceClient, type ResourceClient } from '../helpers/resources.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const KiB = 1024
const PASSWORD = 'long enough pw'

/** Opens /api/v1/websocket with these headers: 'open', or the status it was refused with. */
function openJsonSocket(url: string, headers: Record<string, string>): Promise<'open' | number> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/websocket`, { headers })
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate()
      resolve('open')
    })
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode!)
      ws.terminate()
    })
    ws.once('error', reject)
  })
}

type Answer = { status: number; body: { message?: string } } | 'no answer'

/**
 * Sends a body without Content-Length (chunked), piece by piece, and waits for the answer without
 * ending it: an answer means the server refused the body before its end. Resolves once the server
 * has closed the connection too (or ms after the answer).
 */
function sendUnended(
  url: string,
  headers: Record<string, string>,
  pieces: Buffer[],
  method = 'POST',
  ms = 5000,
): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(url, { method, headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
      let text = ''
      res.on('data', (d) => (text += d))
      res.on('end', () => {
        clearTimeout(timer)
        const answer = { status: res.statusCode!, body: JSON.parse(text) }
        const done = () => (clearTimeout(wait), req.destroy(), resolve(answer))
        const wait = setTimeout(done, ms)
        if (req.socket?.destroyed) done()
        else req.socket?.once('close', done)
      })
    })
    const timer = setTimeout(() => {
      req.destroy()
      resolve('no answer')
    }, ms)
    req.on('error', () => {}) // the server may close while pieces are still being written
    for (const piece of pieces) req.write(piece)
  })
}

/** A multipart body's parts in the order given; a file part is {file: name, bytes}. */
function multipart(
  parts: ({ field: string; value: string } | { file: string; bytes: Buffer })[],
  boundary = 'tendril-boundary',
): { type: string; body: Buffer } {
  const chunks = parts.map((p) =>
    'field' in p
      ? Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.field}"\r\n\r\n${p.value}\r\n`)
      : Buffer.concat([
          Buffer.from(
            `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${p.file}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
          ),
          p.bytes,
          Buffer.from('\r\n'),
        ]),
  )
  return {
    type: `multipart/form-data; boundary=${boundary}`,
    body: Buffer.concat([...chunks, Buffer.from(`--${boundary}--\r\n`)]),
  }
}

/** Every file under the blob store's directory, its temp files included. */
function blobFiles(server: TestServer): string[] {
  try {
    return readdirSync(join(server.core.config.dataDir, 'blobs'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name))
  } catch {
    return []
  }
}

/** The entry names of a zip, as an extracting tool reads them from its central directory. */
function zipEntryNames(zip: Buffer): string[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  const count = zip.readUInt16LE(end + 10)
  const names: string[] = []
  for (let at = zip.readUInt32LE(end + 16), i = 0; i < count; i++) {
    const [nameLength, extraLength, commentLength] = [
      zip.readUInt16LE(at + 28),
      zip.readUInt16LE(at + 30),
      zip.readUInt16LE(at + 32),
    ]
    names.push(zip.subarray(at + 46, at + 46 + nameLength).toString('utf8'))
    at += 46 + nameLength + extraLength + commentLength
  }
  return names
}

for (const provider of providers) {
  describe(`HTTP attacks on ${provider}`, () => {
    let server: TestServer
    let ann: ResourceClient
    let annKey: string
    let cookie: string
    let blobPuts = 0
    let putsUnderWay = 0

    before(async () => {
      server = await startTestServer(provider)
      annKey = (await fixture(server.core, { orgs: ['acme', 'beta'], users: { ann: { password: PASSWORD } } })).users
        .ann.key
      ann = resourceClient(server.url, annKey)
      const signIn = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email_address: 'ann@example.com', password: PASSWORD }),
      })
      cookie = signIn.headers.get('set-cookie')!.split(';')[0]!
      assert.equal(
        (await ann.send('POST', '', { path: '/acme/files', name: 'readme.txt', type: '20', data: b64('hello') }))
          .status,
        200,
      )
      // a folder anyone may write to
      assert.equal((await ann.send('POST', '', { path: '/acme', name: 'guestbook', type: '10' })).status, 200)
      await grant(server.core, '/acme/guestbook', [{ to: 'public', level: 'write' }])
      // every write to the blob store is counted (the routes use this very store)
      const blobs = server.core.blobs
      const put = blobs.put.bind(blobs)
      blobs.put = (...args: Parameters<typeof put>) => {
        blobPuts++
        putsUnderWay++
        return put(...args).finally(() => putsUnderWay--)
      }
    })
    after(() => server.close())

    describe('cross-site websocket hijacking', () => {
      test("a page of another site, or of another port of this host, cannot open the JSON websocket with the visitor's session cookie", async () => {
        const otherPort = new URL(server.url).port === '1' ? '2' : '1'
        for (const origin of [
          'http://evil.example',
          `http://127.0.0.1:${otherPort}`,
          server.url.replace('127.0.0.1', 'localhost'),
          'null',
        ]) {
          assert.equal(await openJsonSocket(server.url, { cookie, origin }), 403, origin)
        }
        assert.equal(
          await openJsonSocket(server.url, { cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }),
          403,
        )
      })

      test("this server's own pages, and clients that are no browser (no Origin), open it with the cookie", async () => {
        assert.equal(await openJsonSocket(server.url, { cookie, origin: server.url }), 'open')
        assert.equal(await openJsonSocket(server.url, { cookie }), 'open')
      })

      test('a key over HTTP Basic opens it whatever the Origin: a page cannot make a browser send a key', async () => {
        assert.equal(await openJsonSocket(server.url, { authorization: basicAuth(annKey) }), 'open')
        assert.equal(
          await openJsonSocket(server.url, { authorization: basicAuth(annKey), origin: 'http://evil.example' }),
          'open',
        )
      })

      test('the cookie opens nothing on /mqtt: an MQTT session needs a key or a token in CONNECT', async () => {
        const client = mqtt.connect(server.wsUrl, {
          reconnectPeriod: 0,
          connectTimeout: 5000,
          wsOptions: { headers: { cookie, origin: 'http://evil.example' } },
        })
        const outcome = await new Promise<string>((resolve) => {
          client.once('connect', () => resolve('connected'))
          client.once('error', (err) => resolve(`refused: ${err.message}`))
          client.once('close', () => resolve('closed'))
        })
        client.end(true)
        assert.notEqual(outcome, 'connected')
      })
    })

    describe('anonymous uploads and the blob store', () => {
      test('an anonymous chunked upload into a folder anyone may write is answered 401 at 64 KiB, and nothing is left in the blob store', async () => {
        const { type, body } = multipart([
          { field: 'path', value: '/acme/guestbook' },
          { file: 'big.bin', bytes: Buffer.alloc(200 * KiB, 1) },
        ])
        // the end of the body is never sent: the answer must come before it
        const answer = await sendUnended(`${server.url}/api/v1/resources`, { 'content-type': type }, [
          body.subarray(0, 150 * KiB),
        ])
        assert.notEqual(answer, 'no answer', 'the server went on reading (and storing) the anonymous body')
        assert.equal(answer !== 'no answer' && answer.status, 401)
        // what it may store (up to 64 KiB) had begun to stream into a temp file: it goes with the upload
        assert.ok(
          await eventually(() => putsUnderWay === 0 && blobFiles(server).length === 0),
          'no blob and no temp file is left',
        )
        assert.equal((await ann.json<unknown[]>('/acme/guestbook')).length, 0)
      })

      test('an anonymous chunked multipart whose file comes before the path is answered 401 before its end, with nothing stored', async () => {
        const puts = blobPuts
        const { type, body } = multipart([
          { file: 'big.bin', bytes: Buffer.alloc(1024 * KiB, 2) },
          { field: 'path', value: '/acme/files' },
        ])
        const answer = await sendUnended(`${server.url}/api/v1/resources`, { 'content-type': type }, [
          body.subarray(0, 300 * KiB),
        ])
        assert.notEqual(answer, 'no answer', 'the server went on reading (and storing) the anonymous body')
        assert.equal(answer !== 'no answer' && answer.status, 401)
        assert.deepEqual(blobFiles(server), [])
        assert.equal(blobPuts, puts)
      })

      test('a chunked anonymous JSON or form body is refused with 401 once past 64 KiB, not read on', async () => {
        const big = Buffer.from(JSON.stringify({ email_address: 'x'.repeat(100 * KiB) }))
        // the PIN poll is mounted before authentication, with parsers of its own
        for (const [method, url] of [
          ['POST', `${server.url}/sign-in`],
          ['POST', `${server.url}/api/v1/resources`],
          ['GET', `${server.url}/api/v1/pins/12345`],
        ] as const) {
          const answer = await sendUnended(
            url,
            { 'content-type': 'application/json' },
            [big.subarray(0, 80 * KiB)],
            method,
          )
          assert.notEqual(answer, 'no answer', url)
          assert.equal(answer !== 'no answer' && answer.status, 401, url)
          assert.match(answer !== 'no answer' ? String(answer.body.message) : '', /needs a key or a session/)
        }
      })

      test('a small file sent before the path is held, not stored, until access is checked: refused without a blob write', async () => {
        const puts = blobPuts
        const small = multipart([
          { file: 'note.bin', bytes: Buffer.alloc(10 * KiB, 3) },
          { field: 'path', value: '/acme/files' },
        ])
        const anonymous = await fetch(`${server.url}/api/v1/resources`, {
          method: 'POST',
          headers: { 'content-type': small.type },
          body: new Uint8Array(small.body),
        })
        assert.equal(anonymous.status, 404)
        const other = multipart([
          { file: 'note.bin', bytes: Buffer.alloc(10 * KiB, 3) },
          { field: 'path', value: '/beta' },
        ])
        const outsider = await fetch(`${server.url}/api/v1/resources`, {
          method: 'POST',
          headers: { 'content-type': other.type, authorization: basicAuth(annKey) },
          body: new Uint8Array(other.body),
        })
        assert.equal(outsider.status, 404, "ann cannot write to beta's folder")
        assert.equal(blobPuts, puts, 'the blob store was never written to')
      })

      test('with a key, a large file sent before the path is refused (400) before any of it is stored', async () => {
        const puts = blobPuts
        const { type, body } = multipart([
          { file: 'big.bin', bytes: Buffer.alloc(2048 * KiB, 4) },
          { field: 'path', value: '/beta' },
        ])
        const res = await fetch(`${server.url}/api/v1/resources`, {
          method: 'POST',
          headers: { 'content-type': type, authorization: basicAuth(annKey) },
          body: new Uint8Array(body),
        }).catch((err: unknown) => err)
        // the server answers as soon as the bound is passed; the client may see that or the closed connection
        if (res instanceof Response) {
          assert.equal(res.status, 400)
          assert.match(((await res.json()) as { message: string }).message, /send the path field before/)
        } else assert.ok(res instanceof Error)
        assert.equal(blobPuts, puts)
      })

      test('a file sent before the path still uploads where the caller may write, and one after it streams as before', async () => {
        const first = multipart([
          { file: 'first.bin', bytes: Buffer.alloc(20 * KiB, 5) },
          { field: 'path', value: '/acme/files' },
        ])
        const res = await fetch(`${server.url}/api/v1/resources`, {
          method: 'POST',
          headers: { 'content-type': first.type, authorization: basicAuth(annKey) },
          body: new Uint8Array(first.body),
        })
        assert.equal(res.status, 200)
        assert.deepEqual(
          Buffer.from(await (await ann.get('/acme/files/first.bin')).arrayBuffer()),
          Buffer.alloc(20 * KiB, 5),
        )
        const anonymous = multipart([
          { field: 'path', value: '/acme/guestbook' },
          { file: 'hi.txt', bytes: Buffer.from('hi from a guest') },
        ])
        assert.equal(
          (
            await fetch(`${server.url}/api/v1/resources`, {
              method: 'POST',
              headers: { 'content-type': anonymous.type },
              body: new Uint8Array(anonymous.body),
            })
          ).status,
          200,
        )
        assert.equal(await (await ann.get('/acme/guestbook/hi.txt')).text(), 'hi from a guest')
      })
    })

    describe('names that escape a zip', () => {
      test('names with "\\" or ":" are refused wherever a name is made: creation, missing folders, the legacy write, rename', async () => {
        const refused = [
          await ann.send('POST', '', { path: '/acme/files', name: '..\\..\\evil.sh', type: '20', data: b64('x') }),
          await ann.send('POST', '', { path: '/acme/files', name: 'C:evil', type: '10' }),
          await ann.send('POST', '', { path: '/acme/new\\folder', name: 'ok.txt', type: '20', data: b64('x') }),
          await ann.send('POST', '/acme/files/..%5Cevil.txt', { data: b64('x') }),
          await ann.send('PUT', '/acme/files/readme.txt', { name: '..\\readme.txt' }),
          await ann.send('PUT', '/acme/files/readme.txt', { name: 'a:b' }),
        ]
        assert.deepEqual(
          refused.map((r) => r.status),
          [400, 400, 400, 400, 400, 400],
        )
        const names = (await ann.json<{ name: string }[]>('/acme', { recursive: 1 })).map((r) => r.name)
        assert.ok(!names.some((n) => /[\\:]/.test(n)), names.join(', '))
      })

      test('names made before the rule still resolve, and a zip of them holds no entry that leaves its folder', async () => {
        // rows as an older version (or rhizo's database) may hold them
        const db = server.core.db
        const files = (await db.resource.findUnique({
          where: {
            liveKey: liveKey(
              (await db.resource.findUnique({ where: { liveKey: liveKey(null, 'acme') } }))!.id,
              'files',
            ),
          },
        }))!
        const row = (parentId: number, name: string, type: number) =>
          db.resource.create({
            data: { parentId, organizationId: files.organizationId, name, type, liveKey: liveKey(parentId, name) },
          })
        const sub = await row(files.id, 'old:folder', ResourceType.basicFolder)
        const evil = await row(sub.id, '..\\..\\..\\evil.sh', ResourceType.file)
        const drive = await row(files.id, 'C:boot.ini', ResourceType.file)
        for (const [path, data] of [
          ['/acme/files/old:folder/..\\..\\..\\evil.sh', 'escape'],
          ['/acme/files/C:boot.ini', 'drive'],
        ] as const) {
          assert.equal((await ann.send('PUT', encodeURI(path), { data: b64(data) })).status, 200, path)
        }
        const zip = await ann.get('/acme/files', { download: 1, ids: `${sub.id},${drive.id}` })
        assert.equal(zip.status, 200)
        const names = zipEntryNames(Buffer.from(await zip.arrayBuffer()))
        assert.equal(names.length, 2, names.join(', '))
        for (const name of names) {
          assert.doesNotMatch(name, /[\\:]/, name)
          assert.ok(!name.split('/').some((s) => s === '..' || s === '.' || s === ''), name)
        }
        assert.deepEqual(names.sort(), ['C_boot.ini', 'old_folder/.._.._.._evil.sh'])
        assert.ok(evil.id > 0)
      })
    })
  })
}
