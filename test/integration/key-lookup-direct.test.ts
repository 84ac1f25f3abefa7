// On SQLite a CONNECT's key lookup reads the broker's own connection with a prepared statement, not
// through Prisma: it must hand back exactly what Prisma's read did (the controller row is kept and
// used by access checks), for every kind of key. SQLite only: PostgreSQL has only Prisma's way.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { authenticateKeysWithOwner, revokeKey } from '../../core/accounts/keys.ts'
import type { Db } from '../../core/db/index.ts'
import { openTestCore, type TestCore } from '../helpers/core.ts'
import { fixture, type Fixture } from '../helpers/fixtures.ts'

/** The same database seen through a wrapper: the direct path does not know it, so it goes Prisma's way. */
const throughPrisma = (db: Db) =>
  new Proxy(db, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })

describe('the direct SQLite key lookup', () => {
  let core: TestCore
  let made: Fixture<'acme', 'ann' | 'root', 'acme/lab/pi-1' | 'acme/lab/pi-2' | 'acme/pi-3'>
  before(async () => {
    core = await openTestCore('sqlite')
    made = await fixture(core, {
      org: 'acme',
      users: { ann: {}, root: { systemAdmin: true } },
      controllers: ['acme/lab/pi-1', 'acme/lab/pi-2', 'acme/pi-3'],
    })
    const [pi1, pi2, pi3] = [
      made.controllers['acme/lab/pi-1'],
      made.controllers['acme/lab/pi-2'],
      made.controllers['acme/pi-3'],
    ]
    // JSON, dates and booleans of every shape the kept row can carry
    await core.db.resource.update({
      where: { id: pi1.id },
      data: {
        permissions: [[130, made.users.ann.id, 10]],
        systemAttributes: { watchdog: { minutes: 5 }, note: 'ünïcode "quoted"', n: 1.5, on: true, list: [1, null] },
        userAttributes: 'a string',
        modifiedAt: new Date('2026-01-02T03:04:05.678Z'),
      },
    })
    await core.db.resource.update({ where: { id: pi2.id }, data: { deleted: true, liveKey: null } })
    await core.db.key.updateMany({ where: { accessAsControllerId: pi3.id }, data: { lastUsedAt: new Date(0) } })
    const revoked = await core.db.key.findFirstOrThrow({ where: { accessAsControllerId: pi3.id } })
    await revokeKey(core.db, revoked.id)
  })
  after(() => core.cleanup())

  test('returns what the Prisma lookup returns, for user, admin, controller, deleted, revoked and unknown keys', async () => {
    const keys = [
      made.users.ann.key,
      made.users.root.key,
      made.controllers['acme/lab/pi-1'].key,
      made.controllers['acme/lab/pi-2'].key, // its controller deleted
      made.controllers['acme/pi-3'].key, // revoked
      made.controllers['acme/lab/pi-1'].key.slice(0, -1) + 'Z', // same key part, another hash
      'not a key',
    ]
    // the direct way is taken when the connection is free: a background write may hold it for a moment
    const queryRaw = core.db.$queryRaw
    let prismaReads = 1
    let direct: Awaited<ReturnType<typeof authenticateKeysWithOwner>> = []
    core.db.$queryRaw = ((...args: Parameters<typeof queryRaw>) => (
      prismaReads++,
      queryRaw.apply(core.db, args)
    )) as typeof queryRaw
    try {
      for (let attempt = 0; attempt < 50 && prismaReads > 0; attempt++) {
        prismaReads = 0
        direct = await authenticateKeysWithOwner(core, keys)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    } finally {
      core.db.$queryRaw = queryRaw
    }
    assert.equal(prismaReads, 0, 'the lookup went Prisma’s way')
    const prisma = await authenticateKeysWithOwner({ ...core, db: throughPrisma(core.db) }, keys)
    assert.deepEqual(direct, prisma)
    assert.deepEqual(
      direct.map((m) => m?.principal.kind ?? null),
      ['user', 'user', 'controller', null, null, null, null],
    )
    const row = direct[2]!.controller!
    assert.ok(row.createdAt instanceof Date && row.modifiedAt instanceof Date && typeof row.deleted === 'boolean')
    assert.deepEqual(row.permissions, [[130, made.users.ann.id, 10]])
  })
})
