// REST /api/v1/resources: creating, listing, reading, changing and deleting the resource tree the way
// rhizo's client and scripts do, with files keeping their revisions, on SQLite and PostgreSQL.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FsBlobStore } from '../../core/blobs/index.ts'
import { readAccessVersion } from '../../core/resources/access-version.ts'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { b64, resourceClient, type ResourceClient } from '../helpers/resources.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

type Item = { id: number; name: string; type: number; fullPath?: string }
type Meta = Record<string, unknown>

/** Lists a zip's entries and their bytes with Python's zipfile (an independent reader). */
function unzip(zip: Buffer): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-zip-'))
  try {
    writeFileSync(join(dir, 'a.zip'), zip)
    const script =
      'import sys,zipfile,json,base64\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(json.dumps({n: base64.b64encode(z.read(n)).decode() for n in z.namelist()}))'
    const out = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', script, join(dir, 'a.zip')], { encoding: 'utf8' }),
    ) as Record<string, string>
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('latin1')]))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

for (const provider of providers) {
  describe(`REST resources on ${provider}`, () => {
    let server: TestServer
    let ann: ResourceClient // acme user
    let pi: ResourceClient // acme controller at /acme/lab/pi-1
    let piId: number
    let annKey: string

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, { org: 'acme', users: { ann: {} }, controllers: ['acme/lab/pi-1'] })
      const controller = f.controllers['acme/lab/pi-1']
      piId = controller.id
      annKey = f.users.ann.key
      ann = resourceClient(server.url, annKey)
      pi = resourceClient(server.url, controller.key)
    })
    after(() => server.close())

    const idAt = async (path: string) => (await findPath(server.core.db, path))?.at(-1)?.id

    test("creating folders, files, sequences and controllers answers rhizo's {status, id}", async () => {
      // rhizo's client create_folder: parent path + name + type, form-encoded
      let res = await ann.send('POST', '', { path: '/acme/data', name: 'runs', type: '10' })
      assert.equal(res.status, 200)
      const body = (await res.json()) as { status: string; id: number }
      assert.equal(body.status, 'ok')
      assert.equal(body.id, await idAt('/acme/data/runs'), 'the missing /acme/data was created on the way')
      res = await ann.send('POST', '', { path: '/acme/data/runs', name: 'notes.txt', type: '20', data: b64('hello') })
      assert.equal(res.status, 200)
      assert.equal(await (await ann.get('/acme/data/runs/notes.txt')).text(), 'hello')
      res = await ann.send(
        'POST',
        '',
        {
          parent: '/acme/data',
          name: 'temperature',
          type: 21,
          system_attributes: { data_type: 1, units: 'degrees C', decimal_places: 2 },
        },
        'json',
      )
      assert.equal(res.status, 200)
      const meta = await ann.json<Meta>('/acme/data/temperature', { meta: 1 })
      assert.deepEqual(meta.system_attributes, {
        max_history: 10000,
        data_type: 1,
        units: 'degrees C',
        decimal_places: 2,
      })
      res = await ann.send('POST', '', { path: '/acme/lab', name: 'pi-9', type: 'controller_folder' })
      assert.equal(res.status, 200)
      const inside = await ann.json<Item[]>('/acme/lab/pi-9', { recursive: 1 })
      const status = [
        'disk_usage',
        'free_disk_space',
        'messages_received',
        'messages_sent',
        'processor_usage',
        'serial_errors',
      ].map((n) => `/acme/lab/pi-9/status/${n}`)
      assert.deepEqual(
        inside.map((i) => i.fullPath),
        ['/acme/lab/pi-9/log', '/acme/lab/pi-9/status', ...status],
        "rhizo-server's status sequences, and the disk_usage its client reports",
      )
      // a name already in use is a conflict, and nothing is replaced
      res = await ann.send('POST', '', { path: '/acme/data/runs', name: 'notes.txt', type: '20', data: b64('other') })
      assert.equal(res.status, 409)
      assert.equal(((await res.json()) as { status: string }).status, 'error')
      assert.equal(await (await ann.get('/acme/data/runs/notes.txt')).text(), 'hello')
    })

    test('a folder lists its children by name; recursive, type, filter and extended narrow or widen it', async () => {
      for (const name of ['b.csv', 'a.txt', 'c.txt'])
        await ann.send('POST', '', { path: '/acme/list', name, type: '20', data: b64(name) })
      await ann.send('POST', '', { path: '/acme/list/sub', name: 'd.txt', type: '20', data: b64('d') })
      const top = await ann.json<Item[]>('/acme/list')
      assert.deepEqual(
        top.map((i) => [i.name, i.type]),
        [
          ['a.txt', 20],
          ['b.csv', 20],
          ['c.txt', 20],
          ['sub', 10],
        ],
      )
      assert.deepEqual(Object.keys(top[0]!).sort(), ['id', 'name', 'type'])
      const all = await ann.json<Item[]>('/acme/list', { recursive: 1, type: 20 })
      assert.deepEqual(
        all.map((i) => i.fullPath),
        ['/acme/list/a.txt', '/acme/list/b.csv', '/acme/list/c.txt', '/acme/list/sub/d.txt'],
      )
      assert.deepEqual(
        (await ann.json<Item[]>('/acme/list', { filter: '*.TXT' })).map((i) => i.name),
        ['a.txt', 'c.txt'],
      )
      assert.deepEqual(
        (await ann.json<Item[]>('/acme/list', { type: 'basic_folder' })).map((i) => i.name),
        ['sub'],
      )
      // as rhizo-server, extended given at all is on: its client sends extended=0 and reads the extended fields
      assert.ok('system_attributes' in (await ann.json<Item[]>('/acme/list', { extended: 0 }))[0]!)
      assert.deepEqual(Object.keys((await ann.json<Item[]>('/acme/list', { extended: '' }))[0]!).sort(), [
        'id',
        'name',
        'type',
      ])
      await server.core.db.controllerStatus.update({
        where: { controllerId: piId },
        data: { connected: true, lastConnectAt: new Date('2024-05-01T12:00:00Z'), clientVersion: '0.9' },
      })
      const lab = await ann.json<Meta[]>('/acme/lab', { extended: 1 })
      const entry = lab.find((i) => i.name === 'pi-1')!
      assert.equal(entry.connected, true)
      assert.equal(entry.last_connect_timestamp, '2024-05-01T12:00:00.000Z')
      assert.equal(entry.client_version, '0.9')
      assert.equal(entry.last_watchdog_timestamp, null)
    })

    test('meta=1 describes the resource with its path, attributes, permissions and last revision', async () => {
      await ann.send('POST', '', {
        path: '/acme/meta',
        name: 'm.txt',
        type: '20',
        data: b64('12345'),
        user_attributes: '{"color":"red"}',
      })
      const meta = await ann.json<Meta>('/acme/meta/m.txt', { meta: 1 })
      const id = await idAt('/acme/meta/m.txt')
      const last = await server.core.db.resourceRevision.findFirst({ where: { resourceId: id } })
      assert.equal(meta.id, id)
      assert.equal(meta.name, 'm.txt')
      assert.equal(meta.type, 20)
      assert.equal(meta.path, '/acme/meta/m.txt')
      assert.equal(meta.parent_id, await idAt('/acme/meta'))
      assert.deepEqual(meta.user_attributes, { color: 'red' })
      assert.deepEqual(meta.permissions, [])
      assert.equal(meta.last_revision_id, last!.id)
      assert.equal(meta.lastRevisionId, last!.id, "rhizo's client reads the camelCase key")
      assert.equal(meta.size, 5)
      assert.match(String(meta.creation_timestamp), /^\d{4}-\d\d-\d\dT.*Z$/)
      const org = await ann.json<Meta>('/acme', { meta: 1 })
      assert.deepEqual(org.permissions, [
        [110, org.id, 20],
        [120, org.id, 20],
      ])
      const controller = await ann.json<Meta>('/acme/lab/pi-1', { meta: 1 })
      assert.equal(controller.connected, true)
      assert.deepEqual(controller.status, {})
    })

    test('a file keeps every revision: PUT data (base64) or contents (text), rev= reads an old one, revisions=1 lists them', async () => {
      await ann.send('POST', '', { path: '/acme/docs', name: 'readme.md', type: '20', data: b64('one') })
      assert.equal((await ann.send('PUT', '/acme/docs/readme.md', { data: b64('two!') })).status, 200)
      assert.equal(
        (
          await ann.send(
            'PUT',
            '/acme/docs/readme.md',
            { contents: 'three', modificationTimestamp: '2030-01-02T03:04:05.678901 Z' },
            'json',
          )
        ).status,
        200,
      )
      const latest = await ann.get('/acme/docs/readme.md')
      assert.equal(await latest.text(), 'three')
      assert.equal(latest.headers.get('content-type'), 'text/markdown; charset=utf-8')
      const revisions = await ann.json<{ id: number; timestamp: string; size: number }[]>('/acme/docs/readme.md', {
        revisions: 1,
      })
      assert.deepEqual(
        revisions.map((r) => r.size),
        [3, 4, 5],
      )
      assert.ok(revisions.every((r) => r.timestamp.endsWith('Z')))
      assert.equal(revisions[2]!.timestamp, '2030-01-02T03:04:05.678Z', "the modification time rhizo's client sends")
      assert.equal(await (await ann.get('/acme/docs/readme.md', { rev: revisions[0]!.id })).text(), 'one')
      const download = await ann.get('/acme/docs/readme.md', { rev: revisions[1]!.id, download: 1 })
      assert.equal(await download.text(), 'two!')
      assert.match(download.headers.get('content-disposition')!, /^attachment; filename\*=UTF-8''readme\.md$/)
      // a revision of another resource is not reachable through this one
      const other = (await server.core.db.resourceRevision.findFirst({
        where: { resourceId: { not: await idAt('/acme/docs/readme.md') } },
      }))!
      assert.equal((await ann.get('/acme/docs/readme.md', { rev: other.id })).status, 404)
      // an html file is not served as a page of this origin
      await ann.send('POST', '', {
        path: '/acme/docs',
        name: 'x.html',
        type: '20',
        data: b64('<script>alert(1)</script>'),
      })
      const html = await ann.get('/acme/docs/x.html')
      assert.equal(html.headers.get('content-type'), 'application/octet-stream')
      assert.match(html.headers.get('content-security-policy')!, /sandbox/)
    })

    test('multipart uploads create files and add revisions; a large one goes through the blob store byte for byte', async () => {
      const big = randomBytes(3 * 1024 * 1024 + 17)
      let res = await ann.upload(
        'POST',
        '',
        { path: '/acme/uploads', type: '20' },
        { name: 'photo.png', bytes: Buffer.from('tiny png') },
      )
      assert.equal(res.status, 200)
      const id = ((await res.json()) as { id: number }).id
      assert.equal(
        (await ann.json<Meta>('/acme/uploads/photo.png', { meta: 1 })).id,
        id,
        "the file part's name names the file",
      )
      res = await ann.upload('PUT', '/acme/uploads/photo.png', {}, { name: 'ignored.bin', bytes: big })
      assert.equal(res.status, 200)
      const download = await ann.get('/acme/uploads/photo.png')
      assert.equal(download.headers.get('content-type'), 'image/png')
      assert.equal(download.headers.get('content-length'), String(big.length))
      const head = await fetch(`${server.url}/api/v1/resources/acme/uploads/photo.png`, {
        method: 'HEAD',
        headers: { authorization: basicAuth(annKey) },
      })
      assert.equal(head.status, 200)
      assert.equal(head.headers.get('content-length'), String(big.length))
      assert.ok(Buffer.from(await download.arrayBuffer()).equals(big), 'the bytes come back identical')
      const rows = await server.core.db.resourceRevision.findMany({ where: { resourceId: id }, orderBy: { id: 'asc' } })
      assert.deepEqual(
        rows.map((r) => [r.size, r.data === null, r.blobHash !== null]),
        [
          [8, false, false],
          [big.length, true, true],
        ],
      )
      assert.equal(await (await ann.get('/acme/uploads/photo.png', { rev: rows[0]!.id })).text(), 'tiny png')
      // a newer large revision leaves the older one readable by rev=
      const newer = randomBytes(2 * 1024 * 1024)
      assert.equal((await ann.upload('PUT', '/acme/uploads/photo.png', {}, { name: 'x', bytes: newer })).status, 200)
      assert.ok(Buffer.from(await (await ann.get('/acme/uploads/photo.png')).arrayBuffer()).equals(newer))
      assert.ok(
        Buffer.from(await (await ann.get('/acme/uploads/photo.png', { rev: rows[1]!.id })).arrayBuffer()).equals(big),
      )
    })

    test('a blob that rotted on disk is never served as if it were whole: the download is cut off', async () => {
      const bytes = randomBytes(100_000)
      await ann.upload('POST', '', { path: '/acme/rot' }, { name: 'data.bin', bytes })
      const row = (await server.core.db.resourceRevision.findFirst({
        where: { resourceId: await idAt('/acme/rot/data.bin') },
      }))!
      const store = server.core.blobs as FsBlobStore
      writeFileSync(store.pathOf(row.blobHash!), randomBytes(bytes.length))
      const res = await ann.get('/acme/rot/data.bin')
      await assert.rejects(res.arrayBuffer(), 'the body ends in an error, not in complete-looking bytes')
      assert.equal((await fetch(`${server.url}/health`)).status, 200)
    })

    test('a signed-in browser uploads with its session and CSRF token; without the token it is refused', async () => {
      const signIn = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email_address: 'ann@example.com', password: 'long enough pw' }),
      })
      assert.equal(signIn.status, 200)
      const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!
      const csrf = ((await signIn.json()) as { csrf_token: string }).csrf_token
      const form = () => {
        const f = new FormData()
        f.append('path', '/acme/browser')
        f.append('file', new Blob([new Uint8Array(Buffer.from('from the browser'))]), 'note.txt')
        return f
      }
      const refused = await fetch(`${server.url}/api/v1/resources`, {
        method: 'POST',
        headers: { cookie },
        body: form(),
      })
      assert.equal(refused.status, 403)
      const ok = await fetch(`${server.url}/api/v1/resources`, {
        method: 'POST',
        headers: { cookie, 'x-csrf-token': csrf },
        body: form(),
      })
      assert.equal(ok.status, 200)
      assert.equal(await (await ann.get('/acme/browser/note.txt')).text(), 'from the browser')
    })

    test("rhizo's legacy POST to a path creates the file (and folders), then adds revisions", async () => {
      let res = await pi.send('POST', '/acme/lab/pi-1/images/cam.jpg', { data: b64('jpeg-1') })
      assert.equal(res.status, 200)
      res = await pi.send('POST', '/acme/lab/pi-1/images/cam.jpg', {
        data: b64('jpeg-2'),
        modificationTimestamp: '2024-05-01T12:00:00.5 Z',
      })
      assert.equal(res.status, 200)
      const revisions = await pi.json<{ timestamp: string }[]>('/acme/lab/pi-1/images/cam.jpg', { revisions: 1 })
      assert.equal(revisions.length, 2)
      assert.ok(revisions.some((r) => r.timestamp === '2024-05-01T12:00:00.500Z'))
      assert.equal(
        (await pi.send('POST', '/acme/lab/pi-1/images', { data: b64('x') })).status,
        400,
        'a folder takes no data',
      )
      assert.equal(
        (await pi.send('POST', '/self/config/settings.json', { data: b64('{"rate": 5}') })).status,
        200,
        'self works for new paths too',
      )
      assert.equal(await (await pi.get('/acme/lab/pi-1/config/settings.json')).text(), '{"rate": 5}')
    })

    test('PUT renames and moves; a move into its own subtree or onto a taken name changes nothing', async () => {
      await ann.send('POST', '', { path: '/acme/move/a/b', name: 'f.txt', type: '20', data: b64('f') })
      await ann.send('POST', '', { path: '/acme/move', name: 'f.txt', type: '20', data: b64('taken') })
      let res = await ann.send('PUT', '/acme/move/a', { parent: '/acme/move/a/b' })
      assert.equal(res.status, 400)
      assert.match(((await res.json()) as { message: string }).message, /own subtree/)
      res = await ann.send('PUT', '/acme/move/a/b/f.txt', { parent: '/acme/move' })
      assert.equal(res.status, 409)
      assert.equal((await ann.send('PUT', '/acme/move/a/b/f.txt', { name: 'g.txt', parent: '/acme/move' })).status, 200)
      assert.equal(await (await ann.get('/acme/move/g.txt')).text(), 'f')
      assert.equal((await ann.get('/acme/move/a/b/f.txt')).status, 404)
      assert.equal((await ann.send('PUT', '/acme/move/a', { name: 'renamed' })).status, 200)
      assert.deepEqual(
        (await ann.json<Item[]>('/acme/move')).map((i) => i.name),
        ['f.txt', 'g.txt', 'renamed'],
      )
      assert.equal((await ann.send('PUT', '/acme/move/g.txt', { parent: '/acme/nowhere' })).status, 400)
      assert.equal((await ann.send('PUT', '/acme/move/g.txt', { name: '../x' })).status, 400)
    })

    test('PUT sets attributes, sequence settings, controller status and permissions (which live sessions re-check)', async () => {
      await ann.send('POST', '', { path: '/acme/attrs', name: 'level', type: '21', data_type: '1' })
      assert.equal(
        (await ann.send('PUT', '/acme/attrs/level', { decimal_places: '3', units: 'cm', user_attributes: '{"k":1}' }))
          .status,
        200,
      )
      let meta = await ann.json<Meta>('/acme/attrs/level', { meta: 1 })
      assert.deepEqual(meta.system_attributes, { max_history: 10000, data_type: 1, decimal_places: 3, units: 'cm' })
      assert.deepEqual(meta.user_attributes, { k: 1 })
      assert.equal((await ann.send('PUT', '/acme/attrs/level', { data_type: '7' })).status, 400)
      assert.equal((await pi.send('PUT', '/self', { status: '{"battery": 81}' })).status, 200)
      assert.deepEqual((await ann.json<Meta>('/acme/lab/pi-1', { meta: 1 })).status, { battery: 81 })
      assert.equal(
        (await ann.send('PUT', '/acme/attrs', { status: '{}' })).status,
        400,
        'only controllers have a status',
      )
      const version = await readAccessVersion(server.core.db)
      const orgId = await idAt('/acme')
      assert.equal(
        (await ann.send('PUT', '/acme/attrs', { permissions: JSON.stringify([[110, orgId, 20]]) })).status,
        200,
      )
      assert.notEqual(await readAccessVersion(server.core.db), version, 'the access version moved')
      assert.equal((await pi.get('/acme/attrs/level', { meta: 1 })).status, 404, 'org controllers lost access')
      assert.equal((await ann.send('PUT', '/acme/attrs', { permissions: '[[999, 1, 20]]' })).status, 400)
      assert.equal(
        (await ann.send('PUT', '/acme', { permissions: '[]' })).status,
        403,
        "only organization admins change the organization's list",
      )
      assert.deepEqual((await ann.json<Meta>('/acme', { meta: 1 })).permissions, [
        [110, orgId, 20],
        [120, orgId, 20],
      ])
      assert.equal((await ann.send('PUT', '/acme/attrs', { permissions: 'null' })).status, 200)
      assert.equal((await pi.get('/acme/attrs/level', { meta: 1 })).status, 200, 'inheriting again')
      assert.equal(
        (await pi.send('PUT', '/acme/attrs', { permissions: '[]' })).status,
        403,
        'a controller key never changes permissions',
      )
      meta = await ann.json<Meta>('/acme/attrs', { meta: 1 })
      assert.deepEqual(meta.permissions, [])
    })

    test("/self is the calling controller's folder; users have no self", async () => {
      const self = await pi.json<Meta>('/self', { meta: 1 })
      assert.equal(self.id, piId)
      assert.equal(self.path, '/acme/lab/pi-1')
      assert.deepEqual(
        (await pi.json<Item[]>('/self/status')).map((i) => i.name),
        ['disk_usage', 'free_disk_space', 'messages_received', 'messages_sent', 'processor_usage', 'serial_errors'],
      )
      assert.equal((await ann.get('/self', { meta: 1 })).status, 403)
      assert.equal((await resourceClient(server.url).get('/self')).status, 401)
    })

    test("a sequence's value is read through the sequence routes; its meta and listing come from here", async () => {
      const meta = await pi.json<Meta>('/self/log', { meta: 1 })
      assert.deepEqual(meta.system_attributes, { data_type: 2, max_history: 10000 })
      const empty = await pi.get('/self/log')
      assert.deepEqual([empty.status, await empty.text()], [200, ''], 'no value yet: empty')
      assert.equal((await pi.send('PUT', '/self/log', { value: 'started' }, 'json')).status, 200)
      const res = await pi.get('/self/log')
      assert.equal(res.status, 200)
      assert.equal(await res.text(), 'started', 'the latest value, from the sequence routes')
    })

    test('DELETE removes a subtree softly (names are free again); data_only empties a file but keeps it', async () => {
      await ann.send('POST', '', { path: '/acme/trash/inner', name: 'x.txt', type: '20', data: b64('x') })
      const innerId = await idAt('/acme/trash/inner')
      const trashId = await idAt('/acme/trash')
      assert.deepEqual(await (await ann.send('DELETE', '/acme/trash')).json(), { status: 'ok', id: trashId })
      assert.equal((await ann.get('/acme/trash/inner/x.txt')).status, 404)
      assert.equal((await ann.get('/acme/trash')).status, 404)
      assert.equal(
        (await server.core.db.resource.findUnique({ where: { id: innerId } }))!.deleted,
        true,
        'rows stay, marked deleted',
      )
      assert.equal(
        (await ann.send('POST', '', { path: '/acme/trash/inner', name: 'x.txt', type: '20', data: b64('new') })).status,
        200,
      )
      assert.equal(await (await ann.get('/acme/trash/inner/x.txt')).text(), 'new')
      assert.equal((await ann.send('PUT', '/acme/trash/inner/x.txt', { data: b64(randomBytes(5000)) })).status, 200)
      const fileId = (await idAt('/acme/trash/inner/x.txt'))!
      const hashes = (
        await server.core.db.resourceRevision.findMany({ where: { resourceId: fileId, blobHash: { not: null } } })
      ).map((r) => r.blobHash!)
      assert.equal(hashes.length, 1)
      assert.equal((await ann.send('DELETE', '/acme/trash/inner/x.txt?data_only=1')).status, 200)
      assert.equal(await server.core.db.resourceRevision.count({ where: { resourceId: fileId } }), 0)
      assert.equal(await server.core.blobs.has(hashes[0]!), false, 'the blob nothing refers to is gone')
      const meta = await ann.json<Meta>('/acme/trash/inner/x.txt', { meta: 1 })
      assert.equal(meta.last_revision_id, null)
      assert.equal((await ann.send('DELETE', '/acme')).status, 403, 'an organization is not deleted by its users')
    })

    test('download=1 with ids= zips the chosen files and folders', async () => {
      await ann.send('POST', '', { path: '/acme/zip', name: 'one.txt', type: '20', data: b64('first file') })
      await ann.send('POST', '', {
        path: '/acme/zip/dir/deeper',
        name: 'two.bin',
        type: '20',
        data: b64(Buffer.alloc(4000, 7)),
      })
      await ann.send('POST', '', { path: '/acme/zip', name: 'left-out.txt', type: '20', data: b64('no') })
      const ids = [await idAt('/acme/zip/one.txt'), await idAt('/acme/zip/dir')].join(',')
      const res = await ann.get('/acme/zip', { download: 1, ids })
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('content-type'), 'application/zip')
      const entries = unzip(Buffer.from(await res.arrayBuffer()))
      assert.deepEqual(Object.keys(entries).sort(), ['dir/deeper/two.bin', 'one.txt'])
      assert.equal(entries['one.txt'], 'first file')
      assert.equal(entries['dir/deeper/two.bin'], Buffer.alloc(4000, 7).toString('latin1'))
      assert.equal((await ann.get('/acme/zip', { download: 1, ids: '999999' })).status, 404)
      assert.equal((await ann.get('/acme/zip', { download: 1, ids: 'x' })).status, 400)
    })
  })
}
