// Downloads that go wrong midway — the client hangs up, or a blob turns out corrupt — end only their
// own response: the server logs it and goes on answering everyone else, and a corrupt blob is never
// delivered as if it were whole. Zips of folders, file revisions, image sequence values and CSV exports.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { after, before, describe, test } from 'node:test'
import type { FsBlobStore } from '../../core/blobs/index.ts'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { failOnProcessFaults } from '../helpers/process-faults.ts'
import { b64, resourceClient, type ResourceClient } from '../helpers/resources.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/** Starts a GET, reads until at least `bytes` of the body arrived, then hangs up; resolves with what was read. */
function readSomeThenHangUp(url: string, key: string, bytes: number): Promise<{ status: number; received: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: basicAuth(key) } }, (res) => {
      let received = 0
      res.on('data', (chunk: Buffer) => {
        received += chunk.length
        if (received >= bytes) {
          req.destroy()
          resolve({ status: res.statusCode!, received })
        }
      })
      res.on('end', () => reject(new Error(`the whole body (${received} bytes) came before the client hung up`)))
    })
    req.on('error', () => {}) // the hang-up itself
    req.end()
  })
}

failOnProcessFaults()

for (const provider of providers) {
  describe(`REST downloads cut off midway on ${provider}`, () => {
    let server: TestServer
    let ann: ResourceClient
    let annKey: string
    let piKey: string
    const idAt = async (path: string) => (await findPath(server.core.db, path))!.at(-1)!.id
    const healthy = async () =>
      (await fetch(`${server.url}/health`)).status === 200 && (await ann.get('/acme/small.txt')).status === 200
    const corrupt = async (path: string) => {
      const row = (await server.core.db.resourceRevision.findFirst({
        where: { resourceId: await idAt(path) },
        orderBy: { id: 'desc' },
      }))!
      assert.ok(row.blobHash, `${path} is in the blob store`)
      writeFileSync((server.core.blobs as FsBlobStore).pathOf(row.blobHash), randomBytes(row.size))
    }

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, { org: 'acme', users: { ann: {} }, controllers: ['acme/pi-1'] })
      annKey = f.users.ann.key
      ann = resourceClient(server.url, annKey)
      piKey = f.controllers['acme/pi-1'].key
      assert.equal(
        (await ann.send('POST', '', { path: '/acme', name: 'small.txt', type: '20', data: b64('still here') })).status,
        200,
      )
    })
    after(() => server.close())

    test('a client that hangs up during a zip of a folder with a large file leaves the server answering, and the zip can be fetched whole again', async () => {
      const big = randomBytes(8 * 1024 * 1024) // random bytes do not compress: the zip is as large
      assert.equal(
        (await ann.upload('POST', '', { path: '/acme/photos' }, { name: 'big.bin', bytes: big })).status,
        200,
      )
      assert.equal(
        (
          await ann.upload(
            'POST',
            '',
            { path: '/acme/photos' },
            { name: 'after.bin', bytes: randomBytes(2 * 1024 * 1024) },
          )
        ).status,
        200,
      )
      const ids = `${await idAt('/acme/photos/big.bin')},${await idAt('/acme/photos/after.bin')}`
      const url = `${server.url}/api/v1/resources/acme/photos?download=1&ids=${ids}`
      for (let i = 0; i < 3; i++) {
        const cut = await readSomeThenHangUp(url, annKey, 64 * 1024)
        assert.equal(cut.status, 200)
        assert.ok(await healthy(), `the server answers after hang-up ${i + 1}`)
      }
      const whole = await ann.get('/acme/photos', { download: 1, ids })
      assert.equal(whole.status, 200)
      assert.ok((await whole.arrayBuffer()).byteLength > big.length)
    })

    test('a corrupt blob inside a zip aborts that response, and the server goes on answering', async () => {
      assert.equal(
        (await ann.upload('POST', '', { path: '/acme/rotten' }, { name: 'first.bin', bytes: randomBytes(300_000) }))
          .status,
        200,
      )
      assert.equal(
        (await ann.upload('POST', '', { path: '/acme/rotten' }, { name: 'bad.bin', bytes: randomBytes(300_000) }))
          .status,
        200,
      )
      assert.equal(
        (await ann.upload('POST', '', { path: '/acme/rotten' }, { name: 'last.bin', bytes: randomBytes(300_000) }))
          .status,
        200,
      )
      await corrupt('/acme/rotten/bad.bin')
      const ids = [
        await idAt('/acme/rotten/first.bin'),
        await idAt('/acme/rotten/bad.bin'),
        await idAt('/acme/rotten/last.bin'),
      ].join(',')
      const res = await ann.get('/acme/rotten', { download: 1, ids })
      assert.equal(res.status, 200, 'the headers went before the blob was read')
      await assert.rejects(res.arrayBuffer(), 'the body ends in an error, not in a complete-looking zip')
      assert.ok(await healthy())
      // a missing blob (deleted behind the server's back) fails the same way
      await server.core.blobs.delete(
        (
          await server.core.db.resourceRevision.findFirstOrThrow({
            where: { resourceId: await idAt('/acme/rotten/last.bin') },
          })
        ).blobHash!,
      )
      await assert.rejects(
        ann
          .get('/acme/rotten', { download: 1, ids: String(await idAt('/acme/rotten/last.bin')) })
          .then((r) => r.arrayBuffer()),
      )
      assert.ok(await healthy())
    })

    test('a client that hangs up during a large file download leaves the server answering', async () => {
      assert.equal(
        (
          await ann.upload(
            'POST',
            '',
            { path: '/acme/files' },
            { name: 'big.bin', bytes: randomBytes(8 * 1024 * 1024) },
          )
        ).status,
        200,
      )
      for (let i = 0; i < 3; i++) {
        const cut = await readSomeThenHangUp(`${server.url}/api/v1/resources/acme/files/big.bin`, annKey, 64 * 1024)
        assert.equal(cut.status, 200)
        assert.ok(await healthy())
      }
    })

    test('a corrupt image value in the blob store is cut off, never served whole; hanging up on one leaves the server answering', async () => {
      const put = (path: string, value: Buffer) =>
        fetch(`${server.url}/api/v1/resources${path}`, {
          method: 'PUT',
          headers: { authorization: basicAuth(piKey), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ data: value.toString('base64') }),
        })
      assert.equal(
        (await ann.send('POST', '', { path: '/acme/pi-1', name: 'camera', type: '21', data_type: '3' })).status,
        200,
      )
      const image = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(2 * 1024 * 1024)])
      assert.equal((await put('/acme/pi-1/camera', image)).status, 200)
      const cut = await readSomeThenHangUp(`${server.url}/api/v1/resources/acme/pi-1/camera`, piKey, 64 * 1024)
      assert.equal(cut.status, 200)
      assert.ok(await healthy())
      await corrupt('/acme/pi-1/camera')
      const res = await fetch(`${server.url}/api/v1/resources/acme/pi-1/camera`, {
        headers: { authorization: basicAuth(piKey) },
      })
      assert.equal(res.status, 200)
      await assert.rejects(res.arrayBuffer(), 'the body ends in an error, not in complete-looking bytes')
      assert.ok(await healthy())
    })

    test('a client that hangs up during a long CSV export leaves the server answering', async () => {
      assert.equal(
        (await ann.send('POST', '', { path: '/acme/pi-1', name: 'temperature', type: '21', data_type: '2' })).status,
        200,
      )
      const sequenceId = await idAt('/acme/pi-1/temperature')
      const start = Date.UTC(2024, 0, 1)
      const rows = Array.from({ length: 20_000 }, (_, i) => {
        const data = new Uint8Array(Buffer.from(`value number ${i} `.repeat(4)))
        return { resourceId: sequenceId, timestamp: new Date(start + i * 1000), data, size: data.length }
      })
      for (let i = 0; i < rows.length; i += 1000)
        await server.core.db.resourceRevision.createMany({ data: rows.slice(i, i + 1000) })
      for (let i = 0; i < 3; i++) {
        const cut = await readSomeThenHangUp(
          `${server.url}/api/v1/resources/acme/pi-1/temperature?download=1`,
          piKey,
          16 * 1024,
        )
        assert.equal(cut.status, 200)
        assert.ok(await healthy())
      }
      const whole = await (await ann.get('/acme/pi-1/temperature', { download: 1 })).text()
      assert.equal(whole.trimEnd().split('\n').length, rows.length + 1)
    })
  })
}
