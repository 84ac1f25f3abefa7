// The bounded message history of each folder (replacing rhizo's one-hour message table): at most
// --message-history-count messages per folder and none older than --message-history-days, enforced by
// trimHistory, which `tendril serve` runs every --message-history-trim-interval; and the writer that
// holds back the rows of messages nobody waits for, writing of a flood only what that bound keeps.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createController, createOrg } from '../../core/admin.ts'
import {
  createHistoryWriter,
  folderMessages,
  HISTORY_HOLD_MS,
  recordMessages,
  trimHistory,
} from '../../core/messages/history.ts'
import type { HistoryEntry } from '../../core/messages/types.ts'
import { startServer } from '../helpers/cli.ts'
import { openTestCore, providers, type TestCore } from '../helpers/core.ts'
import { basicAuth, eventually } from '../helpers/http.ts'
import { connect, endAll } from '../helpers/mqtt.ts'

const DAY = 86_400_000

for (const provider of providers) {
  describe(`message history bounds on ${provider}`, () => {
    let core: TestCore
    let folders: number[]

    before(async () => {
      core = await openTestCore(provider)
      await createOrg(core, 'acme')
      folders = [
        (await createController(core, 'acme/a')).id,
        (await createController(core, 'acme/b')).id,
        (await createController(core, 'acme/c')).id,
      ]
    })
    after(async () => {
      endAll()
      await core?.cleanup()
    })

    const kept = async (folderId: number) =>
      (await core.db.message.findMany({ where: { folderId }, orderBy: { id: 'asc' } })).map(
        (m) => (m.parameters as { n: string }).n,
      )
    const entry = (folderId: number, n: string, timestamp: Date): HistoryEntry => ({
      folderId,
      type: 'note',
      parameters: { n },
      timestamp,
    })

    test('each folder keeps its newest messages up to the count, ties in time broken by arrival', async () => {
      const [a, b] = folders as [number, number]
      const t = new Date(Date.now() - 1000)
      const earlier = new Date(t.getTime() - 60_000)
      // a: two older messages, then four that arrived in the same millisecond; b: under the bound
      await recordMessages(core.db, [
        entry(a, 'a1', earlier),
        entry(a, 'a2', earlier),
        ...['a3', 'a4', 'a5', 'a6'].map((n) => entry(a, n, t)),
        entry(b, 'b1', t),
        entry(b, 'b2', t),
      ])
      assert.equal(await trimHistory(core.db, { maxPerFolder: 3, maxAgeMs: DAY }), 3)
      assert.deepEqual(await kept(a), ['a4', 'a5', 'a6'])
      assert.deepEqual(await kept(b), ['b1', 'b2'])
      assert.equal(await trimHistory(core.db, { maxPerFolder: 3, maxAgeMs: DAY }), 0, 'nothing more to trim')
    })

    test('a batch of many messages is stored whole and in order, each with its own folder, sender, time and parameters', async () => {
      const [a, b] = folders as [number, number]
      const t0 = Date.now() - 5000
      // 150 rows: more than one multi-row INSERT on SQLite (64 rows each), so the chunk edges are crossed
      const batch: HistoryEntry[] = Array.from({ length: 150 }, (_, i) => ({
        folderId: i % 3 === 0 ? b : a,
        type: `t${i % 7}`,
        parameters: { i, text: `é "${i}", \n ✓`, nested: { list: [i, null, true] } },
        timestamp: new Date(t0 + i),
        senderControllerId: i % 2 === 0 ? a : null,
      }))
      const before = await core.db.message.count()
      await recordMessages(core.db, batch)
      const rows = await core.db.message.findMany({ where: { id: { gt: 0 } }, orderBy: { id: 'asc' }, skip: before })
      assert.equal(rows.length, 150)
      rows.forEach((row, i) => {
        const e = batch[i]!
        assert.deepEqual(
          {
            folderId: row.folderId,
            type: row.type,
            parameters: row.parameters,
            timestamp: row.timestamp.getTime(),
            sender: row.senderControllerId,
          },
          {
            folderId: e.folderId,
            type: e.type,
            parameters: e.parameters,
            timestamp: e.timestamp.getTime(),
            sender: e.senderControllerId,
          },
          `row ${i}`,
        )
      })
      // the bounds tests below count what they wrote
      await core.db.message.deleteMany({ where: { id: { in: rows.map((r) => r.id) } } })
    })

    test('messages older than the age bound go from every folder, however few it holds', async () => {
      const c = folders[2]!
      const now = new Date()
      await recordMessages(core.db, [
        entry(c, 'old', new Date(now.getTime() - 2 * DAY)),
        entry(c, 'day-old', new Date(now.getTime() - DAY + 60_000)),
        entry(c, 'new', new Date(now.getTime() + 10_000)),
      ])
      assert.equal(await trimHistory(core.db, { maxPerFolder: 1000, maxAgeMs: DAY }, now), 1)
      assert.deepEqual(await kept(c), ['day-old', 'new'])
      // a day later only the newest is young enough, here and in the other folders (3 + 2 messages from before)
      assert.equal(await trimHistory(core.db, { maxPerFolder: 1000, maxAgeMs: DAY }, new Date(now.getTime() + DAY)), 6)
      assert.deepEqual(await kept(c), ['new'])
      assert.deepEqual(await kept(folders[0]!), [])
    })

    test('`tendril serve` trims every --message-history-trim-interval: a folder keeps its last --message-history-count messages', async () => {
      const { key } = await createController(core, 'acme/served')
      const server = await startServer([
        '--db',
        core.config.database.url,
        '--data-dir',
        core.config.dataDir,
        '--message-history-count',
        '3',
        '--message-history-trim-interval',
        '200',
      ])
      try {
        const client = await connect(`ws://127.0.0.1:${server.port}/mqtt`, key)
        for (let i = 0; i < 6; i++) client.publish('acme/served', JSON.stringify({ note: { n: `m${i}` } }), { qos: 1 })
        const history = async () => {
          const res = await fetch(`${server.url}/api/v1/messages?folder_path=/acme/served`, {
            headers: { authorization: basicAuth(key) },
          })
          return ((await res.json()) as { parameters: { n: string } }[]).map((m) => m.parameters.n)
        }
        assert.ok(
          await eventually(async () => (await history()).join() === 'm3,m4,m5', 20_000),
          `history: ${(await history()).join()}\n${server.output()}`,
        )
        client.end(true)
      } finally {
        assert.equal((await server.stop()).code, 0)
      }
    })

    test('rows of messages nobody waits for are held briefly, and of a flood only the newest the bound keeps are written; what someone waits for is written at once, after what is held', async () => {
      const [d, e, f, g] = await Promise.all(
        ['acme/held-d', 'acme/held-e', 'acme/held-f', 'acme/held-g'].map(
          async (path) => (await createController(core, path)).id,
        ),
      )
      const writer = createHistoryWriter(core.db, core.log, 5)
      const t0 = Date.now()
      const note = (folderId: number, n: string, i: number, fireAndForget = true): HistoryEntry => ({
        ...entry(folderId, n, new Date(t0 + i)),
        fireAndForget,
      })
      // 40 to d and one to e, nobody waiting: nothing written yet
      await writer.record(Array.from({ length: 40 }, (_, i) => note(d!, `d${i}`, i)))
      await writer.record([note(e!, 'e0', 0)])
      assert.deepEqual(await kept(d!), [])
      assert.equal(writer.idle, false)
      // one someone waits for: written before record resolves, after the newest of what was held, five in all
      await writer.record([note(d!, 'd40', 40, false)])
      assert.deepEqual(await kept(d!), ['d36', 'd37', 'd38', 'd39', 'd40'])
      assert.deepEqual(await kept(e!), [], "another folder's rows stay held")
      // held rows are written within the hold time without anyone asking
      assert.ok(
        await eventually(async () => (await kept(e!)).join() === 'e0', HISTORY_HOLD_MS + 2000),
        'held rows are written on time',
      )
      assert.ok(await eventually(async () => writer.idle, 2000))
      // a read writes what is held for its folder first; closing writes the rest
      await writer.record([note(f!, 'f0', 0), note(g!, 'g0', 0)])
      assert.deepEqual(
        (await folderMessages({ db: core.db, history: writer }, f!)).map((m) => (m.parameters as { n: string }).n),
        ['f0'],
      )
      await writer.close()
      assert.deepEqual(await kept(g!), ['g0'])
      assert.equal(writer.idle, true)
    })

    test('`tendril serve`: a QoS 0 flood to a folder writes a fraction of its rows, a read sees the newest at once, and a QoS 1 PUBACK comes once its row and those before it are stored', async () => {
      const { key, id } = await createController(core, 'acme/flooded')
      const server = await startServer([
        '--db',
        core.config.database.url,
        '--data-dir',
        core.config.dataDir,
        '--message-history-count',
        '5',
        '--mqtt-publish-rate',
        '0',
      ])
      try {
        const client = await connect(`ws://127.0.0.1:${server.port}/mqtt`, key)
        const history = async (count: number) => {
          const res = await fetch(`${server.url}/api/v1/messages?folder_path=/acme/flooded&count=${count}`, {
            headers: { authorization: basicAuth(key) },
          })
          return ((await res.json()) as { parameters: { n: string } }[]).map((m) => m.parameters.n)
        }
        for (let i = 0; i < 500; i++)
          client.publish('acme/flooded', JSON.stringify({ note: { n: `m${i}` } }), { qos: 0 })
        await client.publishAsync('acme/flooded', JSON.stringify({ note: { n: 'q' } }), { qos: 1 })
        // straight from the database, no read through the server: the PUBACK came after the rows were stored
        const rows = await core.db.message.findMany({ where: { folderId: id }, orderBy: { id: 'asc' } })
        assert.deepEqual(
          rows.slice(-5).map((m) => (m.parameters as { n: string }).n),
          ['m496', 'm497', 'm498', 'm499', 'q'],
        )
        // 5 rows per hold of 200 ms at most: 100 would mean 4 s to send 500 small messages on loopback
        assert.ok(rows.length <= 100, `${rows.length} rows written for 501 messages`)
        for (let i = 0; i < 3; i++)
          client.publish('acme/flooded', JSON.stringify({ note: { n: `late${i}` } }), { qos: 0 })
        // acknowledged once its batch is stored, so the QoS 0 messages before it (same connection) have reached the
        // history; a watchdog keeps no row
        await client.publishAsync('acme/flooded', JSON.stringify({ watchdog: {} }), { qos: 1 })
        assert.deepEqual(await history(3), ['late0', 'late1', 'late2'])
        // bad JSON found when its row is written: not kept, and the log says which folder sent it and why
        await client.publishAsync('acme/flooded', '{"note": 5}', { qos: 1 })
        assert.deepEqual(await history(3), ['late0', 'late1', 'late2'])
        assert.match(
          server.output(),
          /"folder":"\/acme\/flooded".*"reason":"parameters of \\"note\\" must be an object".*"msg":"mqtt payload not understood; relayed, not stored"/,
        )
        // held rows are written by a clean shutdown, however soon it comes
        for (let i = 0; i < 3; i++)
          client.publish('acme/flooded', JSON.stringify({ note: { n: `end${i}` } }), { qos: 0 })
        await client.publishAsync('acme/flooded', JSON.stringify({ watchdog: {} }), { qos: 1 })
        client.end(true)
      } finally {
        assert.equal((await server.stop()).code, 0, server.output())
      }
      const last = await core.db.message.findMany({ where: { folderId: id }, orderBy: { id: 'desc' }, take: 3 })
      assert.deepEqual(last.map((m) => (m.parameters as { n: string }).n).reverse(), ['end0', 'end1', 'end2'])
    })

    test('with --message-history-count 0 messages are relayed and acknowledged but none is kept; the trim then empties what an earlier setting kept', async () => {
      const { key, id } = await createController(core, 'acme/relay-only')
      await recordMessages(core.db, [entry(id, 'kept-before', new Date())])
      const server = await startServer([
        '--db',
        core.config.database.url,
        '--data-dir',
        core.config.dataDir,
        '--message-history-count',
        '0',
      ])
      try {
        const url = `ws://127.0.0.1:${server.port}/mqtt`
        const [subscriber, publisher] = await Promise.all([
          connect(url, key, { clientId: 'relay-only-sub' }),
          connect(url, key, { clientId: 'relay-only-pub' }),
        ])
        await subscriber.subscribeAsync('acme/relay-only', { qos: 1 })
        const received = new Promise<string>((resolve) =>
          subscriber.once('message', (_t, payload) => resolve(payload.toString())),
        )
        // PUBACK: as stored as it will be
        await publisher.publishAsync('acme/relay-only', JSON.stringify({ note: { n: 'live' } }), { qos: 1 })
        assert.equal(await received, JSON.stringify({ note: { n: 'live' } }))
        const rest = await fetch(`${server.url}/api/v1/messages`, {
          method: 'POST',
          headers: { authorization: basicAuth(key), 'content-type': 'application/json' },
          body: JSON.stringify({ folder_path: '/acme/relay-only', type: 'note', parameters: { n: 'rest' } }),
        })
        assert.equal(rest.status, 200)
        const read = await fetch(`${server.url}/api/v1/messages?folder_path=/acme/relay-only`, {
          headers: { authorization: basicAuth(key) },
        })
        assert.deepEqual(
          ((await read.json()) as { parameters: { n: string } }[]).map((m) => m.parameters.n),
          ['kept-before'],
          'only what was kept before',
        )
        subscriber.end(true)
        publisher.end(true)
      } finally {
        assert.equal((await server.stop()).code, 0, server.output())
      }
      await trimHistory(core.db, { maxPerFolder: 0, maxAgeMs: DAY })
      assert.equal(await core.db.message.count({ where: { folderId: id } }), 0)
    })
  })
}
