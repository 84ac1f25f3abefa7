// A stored image value is announced on its folder topic as rhizo-server told websocket subscribers of
// one (sequence_update with its revision id, no bytes), so pages follow image sequences live without
// polling, and a large image is never pushed to every subscriber. SQLite and PostgreSQL.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import sharp from 'sharp'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { closeSockets, openSocket, sendRhizo, settled } from '../helpers/json-websocket.ts'
import { collect, connect, endAll, granted } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

interface ImageUpdate {
  type: string
  parameters: { id: number; name: string; timestamp: string; revision_id: number; size: number }
}

for (const provider of providers) {
  describe(`image values announced on MQTT on ${provider}`, () => {
    let server: TestServer
    let piKey: string
    let userKey: string
    let cameraId: number

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, { org: 'acme', users: { ann: {} }, controllers: ['acme/lab/pi-1'] })
      piKey = f.controllers['acme/lab/pi-1'].key
      userKey = f.users.ann.key
      const pi = (await findPath(server.core.db, '/acme/lab/pi-1'))!.at(-1)!
      cameraId = (await createSequence(server.core.db, pi, 'camera', { dataType: SequenceDataType.image })).id
    })
    after(async () => {
      closeSockets()
      endAll()
      await server.close()
    })

    /** the first message on the folder topic, waiting up to 5 s for it */
    const nextOn = (client: Awaited<ReturnType<typeof connect>>, topic: string) =>
      new Promise<string | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), 5000)
        client.on('message', (t, payload) => t === topic && (clearTimeout(timer), resolve(payload.toString())))
      })

    test('an image PUT over REST reaches an MQTT subscriber of the folder as a sequence_update naming its revision, without its bytes', async () => {
      const watcher = await connect(server.mqttUrl, userKey)
      assert.equal(await granted(watcher, 'acme/lab/pi-1'), 0)
      // noise, so the image is well over a megabyte as a JPEG: not something to send to every subscriber
      const raw = Buffer.alloc(1200 * 1000 * 3)
      for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24
      const jpeg = await sharp(raw, { raw: { width: 1200, height: 1000, channels: 3 } })
        .jpeg({ quality: 95 })
        .toBuffer()
      assert.ok(jpeg.length > 1_000_000)
      const announced = nextOn(watcher, 'acme/lab/pi-1')
      const at = '2026-12-07T09:00:00.250Z'
      const res = await fetch(`${server.url}/api/v1/resources/acme/lab/pi-1/camera`, {
        method: 'PUT',
        headers: { authorization: basicAuth(piKey), 'content-type': 'application/json' },
        body: JSON.stringify({ data: jpeg.toString('base64'), timestamp: at }),
      })
      assert.equal(res.status, 200)
      const payload = await announced
      assert.ok(payload, 'announced')
      assert.ok(payload.length < 300, `a short message, not the image (${payload.length} bytes)`)
      const update = JSON.parse(payload) as ImageUpdate
      const revision = await server.core.db.resourceRevision.findFirstOrThrow({
        where: { resourceId: cameraId },
        orderBy: { id: 'desc' },
      })
      assert.deepEqual(update, {
        type: 'sequence_update',
        parameters: {
          id: cameraId,
          name: '/acme/lab/pi-1/camera',
          timestamp: at,
          revision_id: revision.id,
          size: jpeg.length,
        },
      })
      // the revision named is the image, for those who want it
      const image = await fetch(
        `${server.url}/api/v1/resources/acme/lab/pi-1/camera?rev=${update.parameters.revision_id}`,
        { headers: { authorization: basicAuth(userKey) } },
      )
      assert.ok(Buffer.from(await image.arrayBuffer()).equals(jpeg))
      // and once: the thumbnail stored meanwhile is not announced as a second image
      assert.deepEqual(await collect(watcher, 500), [])
      watcher.end(true)
    })

    test("an image published over MQTT is announced the same way, and rhizo websocket subscribers get rhizo's sequence_update", async () => {
      const watcher = await connect(server.mqttUrl, userKey)
      await granted(watcher, 'acme/lab/pi-1')
      const socket = await openSocket(server.url, userKey)
      sendRhizo(socket, {
        type: 'subscribe',
        parameters: { subscriptions: [{ folder: '/acme/lab/pi-1', message_type: 'sequence_update' }] },
      })
      await settled(socket)
      const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#e33' } })
        .jpeg()
        .toBuffer()
      const announced = nextOn(watcher, 'acme/lab/pi-1')
      const pi = await connect(server.mqttUrl, piKey)
      // (as text: base64 of the bytes, as rhizo's client sends an image value)
      await pi.publishAsync('acme/lab/pi-1/camera', jpeg.toString('base64'), { qos: 1 })
      const update = JSON.parse((await announced)!) as ImageUpdate
      const revision = await server.core.db.resourceRevision.findFirstOrThrow({
        where: { resourceId: cameraId },
        orderBy: { id: 'desc' },
      })
      assert.equal(update.parameters.revision_id, revision.id)
      assert.equal(update.parameters.size, jpeg.length)
      const frame = await socket.next(5000, 'sequence_update')
      assert.deepEqual(
        frame?.parameters,
        update.parameters,
        'the websocket gets it as rhizo sent it: id, name (the path), timestamp, revision_id',
      )
      pi.end(true)
      watcher.end(true)
    })
  })
}
