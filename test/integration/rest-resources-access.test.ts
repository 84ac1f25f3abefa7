// Who may do what through /api/v1/resources: the whole permission matrix (public, org users, org
// controllers, one user, one controller, system admin × none/read/write, inherited by what is below),
// and other organizations' paths answering exactly like paths that do not exist.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createAdmin, createController, createKeyForUser, createOrg, createOrgUser } from '../../core/admin.ts'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { b64, resourceClient, type ResourceClient } from '../helpers/resources.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const callers = ['public', 'ann', 'bob', 'pi', 'pi2', 'admin'] as const
type Caller = (typeof callers)[number]
const levels = { none: 0, read: 10, write: 20 } as const
type Level = keyof typeof levels

/** Which callers an entry [type, principal] names (the admin writes whatever the list says). */
const entries: { type: number; label: string; principal: (ids: Ids) => number | null; matches: Caller[] }[] = [
  { type: 100, label: 'public', principal: () => null, matches: ['public', 'ann', 'bob', 'pi', 'pi2'] },
  { type: 110, label: 'org users', principal: (ids) => ids.acme, matches: ['ann', 'bob'] },
  { type: 120, label: 'org controllers', principal: (ids) => ids.acme, matches: ['pi', 'pi2'] },
  { type: 130, label: 'one user', principal: (ids) => ids.ann, matches: ['ann'] },
  { type: 140, label: 'one controller', principal: (ids) => ids.pi, matches: ['pi'] },
]
interface Ids {
  acme: number
  ann: number
  pi: number
}

function expected(caller: Caller, entry: (typeof entries)[number], level: Level): Level {
  if (caller === 'admin') return 'write'
  return entry.matches.includes(caller) ? level : 'none'
}

for (const provider of providers) {
  describe(`REST resources access on ${provider}`, () => {
    let server: TestServer
    const as = {} as Record<Caller, ResourceClient>
    let beta: ResourceClient
    let betaUser: ResourceClient
    let ids: Ids

    before(async () => {
      server = await startTestServer(provider)
      const acme = await createOrg(server.core, 'acme')
      await createOrg(server.core, 'beta')
      const annUser = await createOrgUser(server.core, 'ann@example.com', 'long enough pw', 'acme', false)
      await createOrgUser(server.core, 'bob@example.com', 'long enough pw', 'acme', false)
      await createOrgUser(server.core, 'bea@example.com', 'long enough pw', 'beta', false)
      await createAdmin(server.core, 'root@example.com', 'long enough pw')
      const pi = await createController(server.core, 'acme/devices/pi-1')
      const pi2 = await createController(server.core, 'acme/devices/pi-2')
      ids = { acme: acme.id, ann: annUser.id, pi: pi.id }
      as.public = resourceClient(server.url)
      as.ann = resourceClient(server.url, (await createKeyForUser(server.core, 'ann@example.com', 'acme')).key)
      as.bob = resourceClient(server.url, (await createKeyForUser(server.core, 'bob@example.com', 'acme')).key)
      as.pi = resourceClient(server.url, pi.key)
      as.pi2 = resourceClient(server.url, pi2.key)
      as.admin = resourceClient(server.url, (await createKeyForUser(server.core, 'root@example.com', 'acme')).key)
      beta = resourceClient(server.url, (await createController(server.core, 'beta/pi-b')).key)
      betaUser = resourceClient(server.url, (await createKeyForUser(server.core, 'bea@example.com', 'beta')).key)
    })
    after(() => server.close())

    const idAt = async (path: string) => (await findPath(server.core.db, path))?.at(-1)?.id

    for (const entry of entries) {
      for (const level of Object.keys(levels) as Level[]) {
        test(`a folder granting ${entry.label} ${level}: each caller gets what the list says, and so does everything below it`, async () => {
          const folder = `/acme/m-${entry.type}-${level}`
          assert.equal((await as.admin.send('POST', '', { path: folder, name: 'inner.txt', type: '20', data: b64('x') })).status, 200)
          const permissions = JSON.stringify([[entry.type, entry.principal(ids), levels[level]]])
          assert.equal((await as.admin.send('PUT', folder, { permissions })).status, 200)
          for (const caller of callers) {
            const want = expected(caller, entry, level)
            const who = `${caller} on ${folder}`
            for (const path of [folder, `${folder}/inner.txt`]) {
              const read = await as[caller].get(path, { meta: 1 })
              assert.equal(read.status, want === 'none' ? 404 : 200, `read ${who}: ${path}`)
              await read.body?.cancel()
            }
            const listed = await as[caller].get(folder)
            assert.equal(listed.status, want === 'none' ? 404 : 200, `list ${who}`)
            await listed.body?.cancel()
            const writeStatus = want === 'write' ? 200 : want === 'read' ? 403 : 404
            const put = await as[caller].send('PUT', `${folder}/inner.txt`, { contents: caller })
            assert.equal(put.status, writeStatus, `write ${who}`)
            const post = await as[caller].send('POST', '', { path: folder, name: `by-${caller}`, type: '10' })
            assert.equal(post.status, writeStatus, `create in ${who}`)
            const body = (await post.json()) as { status: string; message?: string }
            if (writeStatus === 404) assert.equal(body.message, `resource not found: ${folder}`, 'no hint that it exists')
          }
          const created = (await as.admin.json<{ name: string }[]>(folder)).map((i) => i.name).filter((n) => n.startsWith('by-'))
          assert.deepEqual(created.sort(), callers.filter((c) => expected(c, entry, level) === 'write').map((c) => `by-${c}`).sort())
        })
      }
    }

    test('a child with its own list is hidden from listings and downloads of callers it refuses, and protects its folder from their deletes', async () => {
      await as.admin.send('POST', '', { path: '/acme/mixed', name: 'open.txt', type: '20', data: b64('o') })
      await as.admin.send('POST', '', { path: '/acme/mixed/private', name: 'secret.txt', type: '20', data: b64('s') })
      await as.admin.send('PUT', '/acme/mixed/private', { permissions: JSON.stringify([[130, ids.ann, 20]]) })
      assert.deepEqual((await as.bob.json<{ name: string }[]>('/acme/mixed', { recursive: 1 })).map((i) => i.name), ['open.txt'])
      assert.deepEqual((await as.ann.json<{ name: string }[]>('/acme/mixed', { recursive: 1 })).map((i) => i.name), ['open.txt', 'private', 'secret.txt'])
      const zip = await as.bob.get('/acme/mixed', { download: 1, ids: String(await idAt('/acme/mixed/private')) })
      assert.equal(zip.status, 404)
      // deleting the folder would delete what bob may not touch: refused, and nothing goes
      assert.equal((await as.bob.send('DELETE', '/acme/mixed')).status, 403)
      assert.equal(await (await as.ann.get('/acme/mixed/private/secret.txt')).text(), 's')
      assert.equal(await (await as.bob.get('/acme/mixed/open.txt')).text(), 'o')
      assert.equal((await as.ann.send('DELETE', '/acme/mixed')).status, 200)
      assert.equal((await as.ann.get('/acme/mixed/private/secret.txt')).status, 404)
    })

    test('another organization\'s paths answer 404 to every method, exactly like paths that do not exist, and nothing changes', async () => {
      await as.ann.send('POST', '', { path: '/acme/shared', name: 'data.txt', type: '20', data: b64('acme data') })
      const before = await server.core.db.resource.count()
      const revisions = await server.core.db.resourceRevision.count()
      for (const intruder of [beta, betaUser]) {
        for (const path of ['/acme/shared/data.txt', '/acme/no-such-thing.txt']) {
          const shown = { status: 'error', message: `resource not found: ${path}`, error: { code: 'not_found', message: `resource not found: ${path}` } }
          for (const res of [
            await intruder.get(path),
            await intruder.get(path, { meta: 1 }),
            await intruder.send('PUT', path, { contents: 'overwritten', name: 'renamed' }),
            await intruder.send('DELETE', path),
          ]) {
            assert.equal(res.status, 404)
            assert.deepEqual(await res.json(), shown)
          }
        }
        assert.equal((await intruder.send('POST', '', { path: '/acme/shared', name: 'planted.txt', type: '20', data: b64('x') })).status, 404)
        assert.equal((await intruder.send('POST', '', { path: '/acme/new-folder', name: 'planted.txt', type: '20', data: b64('x') })).status, 404)
        assert.equal((await intruder.send('POST', '/acme/shared/planted.txt', { data: b64('x') })).status, 404)
        assert.equal((await intruder.upload('PUT', '/acme/shared/data.txt', {}, { name: 'x', bytes: Buffer.from('x') })).status, 404)
        // moving one's own resource into another organization is refused too
        await intruder.send('POST', '', { path: '/beta', name: `mine-${intruder === beta ? 'c' : 'u'}`, type: '10' })
        assert.equal((await intruder.send('PUT', `/beta/mine-${intruder === beta ? 'c' : 'u'}`, { parent: '/acme/shared' })).status, 400)
      }
      assert.equal(await server.core.db.resource.count(), before + 2, 'only the two folders in beta')
      assert.equal(await server.core.db.resourceRevision.count(), revisions)
      assert.equal(await (await as.ann.get('/acme/shared/data.txt')).text(), 'acme data')
      assert.equal((await as.ann.get('/beta', { meta: 1 })).status, 404)
    })
  })
}
