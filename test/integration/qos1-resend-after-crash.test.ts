// A QoS 1 value stored whose PUBACK never reached the client (a kill -9, a cut connection) comes again
// as MQTT.js sends it: same packet id, DUP not set (mqttjs/MQTT.js#692). It is stored once, whichever
// instance over the same database gets it. A client that reuses one packet id for identical values
// in normal operation loses none of them (core/messages/packet-marks.ts).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type mqttPacket from 'mqtt-packet'
import { forgetOldPacketMarks, RESEND_WINDOW_S } from '../../core/messages/packet-marks.ts'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { eventually } from '../helpers/http.ts'
import { rawSession } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const publish = (messageId: number, topic: string, payload: string, dup = false): mqttPacket.IPublishPacket => ({
  cmd: 'publish',
  messageId,
  topic,
  payload: Buffer.from(payload),
  qos: 1,
  dup,
  retain: false,
})

for (const provider of providers) {
  describe(`QoS 1 resends without DUP on ${provider}`, () => {
    let a: TestServer
    let b: TestServer
    let key: string
    const ids = new Map<string, number>()

    before(async () => {
      a = await startTestServer(provider)
      b = await startTestServer(provider, { databaseUrl: a.databaseUrl }) // a second instance, no Redis
      key = (await fixture(a.core, { org: 'acme', controllers: ['acme/pi'] })).controllers['acme/pi'].key
      const pi = (await findPath(a.core.db, '/acme/pi'))!.at(-1)!
      for (const name of ['cut', 'moved', 'update', 'other', 'same-id', 'fresh-first']) {
        ids.set(name, (await createSequence(a.core.db, pi, name, { dataType: SequenceDataType.numeric })).id)
      }
    })
    after(async () => {
      await b?.close()
      await a?.close()
    })

    const values = async (name: string) =>
      (await sequenceHistory(a.core.db, ids.get(name)!, { blobs: a.core.blobs })).values.map(String)

    /** Publishes on a connection that is cut once the value is stored, before the client reads its PUBACK. */
    async function storeAndCut(
      server: TestServer,
      clientId: string,
      packet: mqttPacket.IPublishPacket,
      stored: () => Promise<boolean>,
    ) {
      const session = await rawSession(server.mqttUrl, key, clientId)
      session.send(packet)
      assert.ok(await eventually(stored, 5000), 'the value was not stored')
      session.close()
      await session.closed()
    }

    test('a value stored, its connection cut, sent again with the same id on a new connection: stored once', async () => {
      const packet = publish(7, 'acme/pi/cut', '42')
      await storeAndCut(a, 'cut-1', packet, async () => (await values('cut')).length === 1)
      const again = await rawSession(a.mqttUrl, key, 'cut-1')
      again.send(packet)
      await again.next('puback')
      again.close()
      assert.deepEqual(await values('cut'), ['42'])
    })

    test('the resend reaches another instance over the same database, whose memory never saw it: stored once', async () => {
      const packet = publish(9, 'acme/pi/moved', '43')
      await storeAndCut(a, 'moved-1', packet, async () => (await values('moved')).length === 1)
      const again = await rawSession(b.mqttUrl, key, 'moved-1')
      again.send(packet)
      await again.next('puback')
      again.close()
      assert.deepEqual(await values('moved'), ['43'])
    })

    test('a resent update carrying several values stores each once', async () => {
      const packet = publish(3, 'acme/pi', JSON.stringify({ update: { update: 1, other: 2 } }))
      const both = async () => (await values('update')).length === 1 && (await values('other')).length === 1
      await storeAndCut(a, 'update-1', packet, both)
      const again = await rawSession(b.mqttUrl, key, 'update-1')
      again.send(packet)
      await again.next('puback')
      again.close()
      assert.deepEqual([await values('update'), await values('other')], [['1'], ['2']])
    })

    test('a client that sends identical values always with packet id 1 has every one stored', async () => {
      const session = await rawSession(a.mqttUrl, key, 'same-id-1')
      for (let i = 0; i < 5; i++) {
        session.send(publish(1, 'acme/pi/same-id', '5'))
        await session.next('puback') // the id is free again [MQTT-4.3.2]
      }
      session.close()
      assert.deepEqual(await values('same-id'), ['5', '5', '5', '5', '5'])
    })

    test('on a new connection, once a fresh value is stored, a copy of an earlier packet is a new message', async () => {
      await storeAndCut(
        a,
        'fresh-1',
        publish(1, 'acme/pi/fresh-first', '5'),
        async () => (await values('fresh-first')).length === 1,
      )
      const session = await rawSession(b.mqttUrl, key, 'fresh-1')
      session.send(publish(2, 'acme/pi/fresh-first', '6'))
      await session.next('puback')
      session.send(publish(1, 'acme/pi/fresh-first', '5'))
      await session.next('puback')
      session.close()
      assert.deepEqual((await values('fresh-first')).sort(), ['5', '5', '6'])
    })

    test('the marks of clients that stored nothing within the window are forgotten by the upkeep job', async () => {
      assert.ok((await a.core.db.packetMark.count()) > 0)
      await forgetOldPacketMarks(a.core.db, new Date(Date.now() - 1000))
      assert.ok((await a.core.db.packetMark.count()) > 0, 'a recent mark was forgotten')
      await forgetOldPacketMarks(a.core.db, new Date(Date.now() + (RESEND_WINDOW_S + 1) * 1000))
      assert.equal(await a.core.db.packetMark.count(), 0)
    })
  })
}
