// Image sequences over REST (and one over MQTT) and thumbnails, on SQLite and PostgreSQL: JPEG bytes are kept exactly
// (inline or in the blob store), each value gets a 240 px thumbnail in the child sequence
// "thumbnail-240-x" with the same timestamp, made after the response; png/jpg file revisions get a
// 120 px thumbnail in the Thumbnail table (makeFileThumbnail, which the resources router calls).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import sharp from 'sharp'
import { createController, createOrg } from '../../core/admin.ts'
import { inTransaction } from '../../core/db/index.ts'
import { drainThumbnails } from '../../core/images/queue.ts'
import { makeFileThumbnail, THUMBNAIL_SEQUENCE_NAME } from '../../core/images/thumbnails.ts'
import {
  holdBlobReferences,
  insertRevisionRows,
  latestValue,
  placeRevisionBytes,
  readRevisionBytes,
} from '../../core/resources/revisions.ts'
import { createResource, createSequence, findPath } from '../../core/resources/tree.ts'
import { ResourceType, SequenceDataType } from '../../core/resources/types.ts'
import { providers } from '../helpers/core.ts'
import { basicAuth, eventually } from '../helpers/http.ts'
import { connect } from '../helpers/mqtt.ts'
import { failOnProcessFaults } from '../helpers/process-faults.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/** A noisy image, so its JPEG is large (blob store) and not trivially compressible. */
async function photo(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3)
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7919 + (i >> 5) * 104729) & 0xff
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer()
}

failOnProcessFaults()

for (const provider of providers) {
  describe(`REST image sequences and thumbnails on ${provider}`, () => {
    let server: TestServer
    let piKey: string
    let pi: { id: number; organizationId: number | null }
    let counter = 0

    before(async () => {
      server = await startTestServer(provider)
      await createOrg(server.core, 'acme')
      piKey = (await createController(server.core, 'acme/lab/cam-1')).key
      pi = (await findPath(server.core.db, '/acme/lab/cam-1'))!.at(-1)!
    })
    after(() => server.close())

    const imageSequence = async () => {
      const name = `camera-${++counter}`
      const created = await createSequence(server.core.db, pi, name, { dataType: SequenceDataType.image })
      return { id: created.id, path: `/acme/lab/cam-1/${name}` }
    }
    const put = (path: string, body: Record<string, string>) =>
      fetch(`${server.url}/api/v1/resources${path}`, {
        method: 'PUT',
        headers: { authorization: basicAuth(piKey), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body),
      })
    const thumbnailsOf = async (sequenceId: number) => {
      const child = await server.core.db.resource.findFirst({
        where: { parentId: sequenceId, name: THUMBNAIL_SEQUENCE_NAME, deleted: false },
      })
      if (!child) return []
      return server.core.db.resourceRevision.findMany({ where: { resourceId: child.id }, orderBy: { id: 'asc' } })
    }

    test('a JPEG PUT as base64 data is read back byte for byte, and gets a 240 px thumbnail with the same timestamp', async () => {
      const seq = await imageSequence()
      const jpeg = await photo(1200, 800)
      assert.ok(jpeg.length > server.core.config.inlineBytes, 'large enough for the blob store')
      const at = '2024-05-01T12:00:00.250Z'
      const res = await put(seq.path, { data: jpeg.toString('base64'), timestamp: at })
      assert.equal(res.status, 200)
      const back = await fetch(`${server.url}/api/v1/resources${seq.path}`, {
        headers: { authorization: basicAuth(piKey) },
      })
      assert.equal(back.headers.get('content-type'), 'image/jpeg')
      assert.ok(Buffer.from(await back.arrayBuffer()).equals(jpeg), 'the same bytes')
      assert.ok(await eventually(async () => (await thumbnailsOf(seq.id)).length === 1), 'a thumbnail is made')
      const [thumb] = await thumbnailsOf(seq.id)
      assert.equal(thumb!.timestamp.toISOString(), at)
      const meta = await sharp(await readRevisionBytes(server.core.blobs, thumb!)).metadata()
      assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 240, 160])
      // the thumbnail sequence is an image sequence readable at its own path
      const viaRest = await fetch(`${server.url}/api/v1/resources${seq.path}/${THUMBNAIL_SEQUENCE_NAME}`, {
        headers: { authorization: basicAuth(piKey) },
      })
      assert.equal(viaRest.headers.get('content-type'), 'image/jpeg')
      assert.equal((await sharp(Buffer.from(await viaRest.arrayBuffer())).metadata()).width, 240)
      // a value written to the thumbnail sequence itself gets no thumbnail of its own
      const child = await server.core.db.resource.findFirstOrThrow({
        where: { parentId: seq.id, name: THUMBNAIL_SEQUENCE_NAME },
      })
      assert.equal(
        (await put(`${seq.path}/${THUMBNAIL_SEQUENCE_NAME}`, { data: (await photo(100, 100)).toString('base64') }))
          .status,
        200,
      )
      await drainThumbnails(server.core)
      assert.equal(await server.core.db.resource.count({ where: { parentId: child.id } }), 0)
    })

    test('a JPEG sent as a multipart file part (PUT, or the legacy POST) is stored byte for byte, with its timestamp and thumbnail', async () => {
      const seq = await imageSequence()
      const multipart = (method: string, part: string, jpeg: Buffer, timestamp?: string) => {
        const form = new FormData()
        if (timestamp) form.append('timestamp', timestamp)
        form.append(part, new Blob([new Uint8Array(jpeg)], { type: 'image/jpeg' }), 'frame.jpg')
        return fetch(`${server.url}/api/v1/resources${seq.path}`, {
          method,
          headers: { authorization: basicAuth(piKey) },
          body: form,
        })
      }
      const latest = async () =>
        Buffer.from(
          await (
            await fetch(`${server.url}/api/v1/resources${seq.path}`, { headers: { authorization: basicAuth(piKey) } })
          ).arrayBuffer(),
        )
      const large = await photo(1200, 800) // into the blob store
      const res = await multipart('PUT', 'file', large, '2024-05-02T08:00:00.000Z')
      assert.equal(res.status, 200, await res.clone().text())
      assert.deepEqual(await res.json(), { status: 'ok', id: seq.id, stored: true })
      assert.ok((await latest()).equals(large), 'the same bytes')
      const small = await photo(16, 16) // inline in the database
      assert.equal((await multipart('POST', 'data', small, '2024-05-02T08:01:00.000Z')).status, 200)
      assert.ok((await latest()).equals(small))
      assert.equal((await multipart('PUT', 'value', large, '2024-05-02T08:02:00.000Z')).status, 200)
      const rows = await server.core.db.resourceRevision.findMany({
        where: { resourceId: seq.id },
        orderBy: { timestamp: 'asc' },
      })
      assert.deepEqual(
        rows.map((r) => [r.timestamp.toISOString(), r.size]),
        [
          ['2024-05-02T08:00:00.000Z', large.length],
          ['2024-05-02T08:01:00.000Z', small.length],
          ['2024-05-02T08:02:00.000Z', large.length],
        ],
      )
      await drainThumbnails(server.core)
      assert.equal((await thumbnailsOf(seq.id)).length, 3, 'each value got its thumbnail')
      // a part of another name is not a value; nothing is stored
      const other = await multipart('PUT', 'picture', small)
      assert.equal(other.status, 400)
      assert.match(((await other.json()) as { message: string }).message, /named file, data, value/)
      assert.equal(await server.core.db.resourceRevision.count({ where: { resourceId: seq.id } }), 3)
    })

    test('each value gets its own thumbnail in the one child sequence, also through PUT /api/v1/resources', async () => {
      const seq = await imageSequence()
      assert.equal((await put(seq.path, { data: (await photo(640, 480)).toString('base64') })).status, 200)
      const res = await fetch(`${server.url}/api/v1/resources`, {
        method: 'PUT',
        headers: { authorization: basicAuth(piKey), 'content-type': 'application/json' },
        body: JSON.stringify({ values: { [seq.path]: (await photo(480, 640)).toString('base64') } }),
      })
      assert.equal(res.status, 200)
      await drainThumbnails(server.core)
      const thumbs = await thumbnailsOf(seq.id)
      const sizes = await Promise.all(
        thumbs.map(async (t) => (await sharp(await readRevisionBytes(server.core.blobs, t)).metadata()).height),
      )
      assert.deepEqual(sizes, [180, 240])
      assert.equal(await server.core.db.resource.count({ where: { parentId: seq.id } }), 1)
    })

    test('an image value sent over MQTT (update_sequence, encoded) is kept byte for byte and gets its thumbnail too', async () => {
      const seq = await imageSequence()
      const jpeg = await photo(640, 480)
      const client = await connect(server.mqttUrl, piKey)
      try {
        const message = JSON.stringify({
          update_sequence: { sequence: seq.path.split('/').at(-1), value: jpeg.toString('base64'), encoded: true },
        })
        await new Promise<void>((resolve, reject) =>
          client.publish('acme/lab/cam-1', message, { qos: 1 }, (err) => (err ? reject(err) : resolve())),
        )
      } finally {
        client.end()
      }
      const back = await fetch(`${server.url}/api/v1/resources${seq.path}`, {
        headers: { authorization: basicAuth(piKey) },
      })
      assert.ok(Buffer.from(await back.arrayBuffer()).equals(jpeg), 'the same bytes')
      assert.ok(await eventually(async () => (await thumbnailsOf(seq.id)).length === 1), 'a thumbnail is made')
      const [thumb] = await thumbnailsOf(seq.id)
      assert.equal((await sharp(await readRevisionBytes(server.core.blobs, thumb!)).metadata()).width, 240)
    })

    test('bytes that are not an image are stored as sent; no thumbnail is made and the server carries on', async () => {
      const seq = await imageSequence()
      const junk = Buffer.from('not an image at all')
      assert.equal((await put(seq.path, { data: junk.toString('base64') })).status, 200)
      await drainThumbnails(server.core)
      assert.deepEqual(await thumbnailsOf(seq.id), [])
      const latest = (await latestValue(server.core, server.core.blobs, seq.id))!
      assert.ok(Buffer.isBuffer(latest.body) && latest.body.equals(junk))
      assert.equal((await put(seq.path, { data: 'not base64!' })).status, 400)
    })

    test('makeFileThumbnail stores a 120 px JPEG of a png or jpg file revision, inline or from the blob store', async () => {
      const folder = (await findPath(server.core.db, '/acme/lab'))!.at(-1)!
      const cases = [
        {
          name: 'small.png',
          bytes: await sharp({ create: { width: 300, height: 150, channels: 3, background: '#3366cc' } })
            .png()
            .toBuffer(),
          size: [120, 60],
        },
        { name: 'large.jpg', bytes: await photo(1600, 1200), size: [120, 90] },
      ]
      for (const c of cases) {
        const file = await createResource(server.core.db, {
          parentId: folder.id,
          organizationId: folder.organizationId,
          name: c.name,
          type: ResourceType.file,
        })
        const content = await placeRevisionBytes(server.core, server.core.blobs, c.bytes)
        assert.equal(content.blobHash === null, c.bytes.length <= server.core.config.inlineBytes)
        const [revisionId] = await inTransaction(server.core.db, async (tx) => {
          await holdBlobReferences(tx)
          return insertRevisionRows(tx, [{ resourceId: file.id, timestamp: new Date(), content, numericValue: null }])
        })
        const made = await makeFileThumbnail(server.core, server.core.blobs, file.id, revisionId!)
        assert.deepEqual([made.width, made.height, made.format], [...c.size, 'jpg'])
        const row = await server.core.db.thumbnail.findFirstOrThrow({ where: { resourceId: file.id } })
        assert.equal(row.revisionId, revisionId)
        const meta = await sharp(Buffer.from(row.data)).metadata()
        assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', ...c.size])
      }
      await assert.rejects(makeFileThumbnail(server.core, server.core.blobs, folder.id, 999_999), /not found/)
    })

    test('a png file uploaded over REST gets a 120 px thumbnail, served with thumbnail=1; a text file gets none', async () => {
      const png = await sharp({ create: { width: 600, height: 300, channels: 3, background: '#3a7' } })
        .png()
        .toBuffer()
      const form = new FormData()
      form.set('path', '/acme/lab/cam-1')
      form.set('file', new Blob([png], { type: 'image/png' }), 'plot.png')
      const created = await fetch(`${server.url}/api/v1/resources`, {
        method: 'POST',
        headers: { authorization: basicAuth(piKey) },
        body: form,
      })
      assert.equal(created.status, 200)
      const thumbnail = () =>
        fetch(`${server.url}/api/v1/resources/acme/lab/cam-1/plot.png?thumbnail=1`, {
          headers: { authorization: basicAuth(piKey) },
        })
      assert.ok(
        await eventually(async () => (await thumbnail()).status === 200),
        'the thumbnail is made after the upload',
      )
      const res = await thumbnail()
      assert.equal(res.headers.get('content-type'), 'image/jpeg')
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata()
      assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 120, 60])
      const notes = new FormData()
      notes.set('path', '/acme/lab/cam-1')
      notes.set('file', new Blob(['hello']), 'notes.txt')
      assert.equal(
        (
          await fetch(`${server.url}/api/v1/resources`, {
            method: 'POST',
            headers: { authorization: basicAuth(piKey) },
            body: notes,
          })
        ).status,
        200,
      )
      await drainThumbnails(server.core)
      const none = await fetch(`${server.url}/api/v1/resources/acme/lab/cam-1/notes.txt?thumbnail=1`, {
        headers: { authorization: basicAuth(piKey) },
      })
      assert.equal(none.status, 404)
    })
  })
}
