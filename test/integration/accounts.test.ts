// Accounts core against real databases: users, organizations, keys, sessions and access, on SQLite and PostgreSQL.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createController, createKeyForUser, createOrg, createOrgUser } from '../../core/admin.ts'
import { authenticateKey, createUserKey, KEY_PREFIX, keyPartOf, revokeKey } from '../../core/accounts/keys.ts'
import { createSession, deleteSession, findSession } from '../../core/accounts/sessions.ts'
import { checkCredentials, createUser } from '../../core/accounts/users.ts'
import { resolveAccess } from '../../core/resources/permissions.ts'
import { inTransaction } from '../../core/db/index.ts'
import { createControllerFolder, findPath } from '../../core/resources/tree.ts'
import { AccessLevel } from '../../core/resources/types.ts'
import { openTestCore, providers, type TestCore } from '../helpers/core.ts'
import { grant } from '../helpers/fixtures.ts'

for (const provider of providers) {
  describe(`accounts on ${provider}`, () => {
    let core: TestCore
    before(async () => {
      core = await openTestCore(provider)
      await createOrg(core, 'acme', 'Acme Labs')
      await createOrg(core, 'beta')
    })
    after(() => core.cleanup())

    test('passwords are stored as bcrypt hashes and checked on sign-in', async () => {
      const user = await createUser(core, { email: ' Ada@Example.com ', password: 'correct horse' })
      assert.equal(user.email, 'ada@example.com')
      assert.match(user.passwordHash, /^\$2b\$04\$/)
      assert.doesNotMatch(user.passwordHash, /correct horse/)
      assert.equal((await checkCredentials(core, 'ADA@example.com', 'correct horse'))?.id, user.id)
      assert.equal(await checkCredentials(core, 'ada@example.com', 'wrong horse'), null)
      assert.equal(await checkCredentials(core, 'nobody@example.com', 'correct horse'), null)
    })

    test('short passwords, bad emails and duplicate emails are refused', async () => {
      await assert.rejects(createUser(core, { email: 'short@example.com', password: 'abc' }), /at least 10 characters/)
      await assert.rejects(createUser(core, { email: 'not-an-email', password: 'long enough pw' }), /not a valid email/)
      await createUser(core, { email: 'dup@example.com', password: 'long enough pw' })
      await assert.rejects(
        createUser(core, { email: 'DUP@example.com', password: 'long enough pw' }),
        (e: Error & { code?: string }) => e.code === 'conflict',
      )
    })

    test('an organization is a root folder whose members and controllers may write', async () => {
      const [org] = (await findPath(core.db, '/acme'))!
      assert.equal(org!.type, 11)
      assert.equal(org!.organizationId, org!.id)
      assert.deepEqual(org!.permissions, [
        [110, org!.id, 20],
        [120, org!.id, 20],
      ])
      await assert.rejects(createOrg(core, 'acme'), /already exists/)
    })

    test('a controller gets its folder, log and status sequences, and a key that acts as it', async () => {
      const created = await createController(core, 'acme/greenhouse/pi-1')
      assert.equal(created.path, '/acme/greenhouse/pi-1')
      assert.match(created.key, new RegExp(`^${KEY_PREFIX}[A-Z0-9]{50}$`))
      for (const path of [
        '/acme/greenhouse',
        '/acme/greenhouse/pi-1/log',
        '/acme/greenhouse/pi-1/status/free_disk_space',
        '/acme/greenhouse/pi-1/status/processor_usage',
      ]) {
        assert.ok(await findPath(core.db, path), path)
      }
      const log = (await findPath(core.db, '/acme/greenhouse/pi-1/log'))!.at(-1)!
      assert.deepEqual(log.systemAttributes, { data_type: 2, max_history: 10000 })
      const principal = await authenticateKey(core, created.key)
      assert.deepEqual(principal, {
        kind: 'controller',
        controllerId: created.id,
        organizationId: (await findPath(core.db, '/acme'))![0]!.id,
        keyId: principal!.kind === 'controller' ? principal!.keyId : -1,
      })
    })

    test('only a keyed hash and key_part are stored, never the key', async () => {
      const { key, id } = await createController(core, 'acme/pi-hash')
      const row = await core.db.key.findUniqueOrThrow({
        where: { id: (await core.db.key.findFirstOrThrow({ where: { accessAsControllerId: id } })).id },
      })
      assert.equal(row.keyPart, keyPartOf(key))
      assert.equal(row.keyPart.length, 6)
      assert.match(row.keyHash, /^[0-9a-f]{64}$/)
      const everything = JSON.stringify(await core.db.key.findMany())
      assert.ok(!everything.includes(key.slice(KEY_PREFIX.length)), 'the key appears in the keys table')
    })

    test('a wrong, truncated or revoked key authenticates nobody', async () => {
      const { key } = await createController(core, 'acme/pi-revoke')
      const tampered = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A')
      assert.equal(await authenticateKey(core, tampered), null)
      assert.equal(await authenticateKey(core, key.slice(0, 20)), null)
      assert.equal(await authenticateKey(core, ''), null)
      const principal = await authenticateKey(core, key)
      assert.ok(principal && principal.kind === 'controller')
      await revokeKey(core.db, principal.keyId)
      assert.equal(await authenticateKey(core, key), null)
    })

    test('a user key acts as its user inside its own organization only', async () => {
      await createOrgUser(core, 'both@example.com', 'long enough pw', 'acme', false)
      const user = await core.db.user.findFirstOrThrow({ where: { email: 'both@example.com' } })
      const beta = (await findPath(core.db, '/beta'))![0]!
      await core.db.organizationUser.create({ data: { organizationId: beta.id, userId: user.id } })
      const { key } = await createKeyForUser(core, 'both@example.com', 'acme')
      const principal = (await authenticateKey(core, key))!
      const acmeFolder = (await findPath(core.db, '/acme/greenhouse'))!.at(-1)!
      assert.equal(await resolveAccess(core.db, principal, acmeFolder.id), AccessLevel.write)
      assert.equal(
        await resolveAccess(core.db, principal, beta.id),
        AccessLevel.none,
        'an acme key must not reach beta',
      )
    })

    test('a user key cannot be made for an organization the user is not in', async () => {
      await createOrgUser(core, 'acme-only@example.com', 'long enough pw', 'acme', false)
      const user = await core.db.user.findFirstOrThrow({ where: { email: 'acme-only@example.com' } })
      const beta = (await findPath(core.db, '/beta'))![0]!
      await assert.rejects(createUserKey(core.db, core.secret, user.id, beta.id), /not a member/)
    })

    test('controllers and users of one organization cannot reach another organization', async () => {
      const { key } = await createController(core, 'beta/pi-b')
      const betaController = (await authenticateKey(core, key))!
      const acmeController = (await findPath(core.db, '/acme/greenhouse/pi-1'))!.at(-1)!
      assert.equal(await resolveAccess(core.db, betaController, acmeController.id), AccessLevel.none)
      const own = (await findPath(core.db, '/beta/pi-b/log'))!.at(-1)!
      assert.equal(await resolveAccess(core.db, betaController, own.id), AccessLevel.write)
    })

    test('permissions set on a folder are inherited by everything below it', async () => {
      await grant(core, '/acme/greenhouse', [{ to: 'public', level: 'read' }])
      const log = (await findPath(core.db, '/acme/greenhouse/pi-1/log'))!.at(-1)!
      assert.equal(await resolveAccess(core.db, { kind: 'anonymous' }, log.id), AccessLevel.read)
      const member = (await authenticateKey(core, (await createKeyForUser(core, 'both@example.com', 'acme')).key))!
      assert.equal(
        await resolveAccess(core.db, member, log.id),
        AccessLevel.read,
        'the nearer list replaces the organization default',
      )
      await grant(core, '/acme/greenhouse', null)
      assert.equal(await resolveAccess(core.db, member, log.id), AccessLevel.write)
    })

    test('sessions are found by their token until they expire or are deleted', async () => {
      const user = await createUser(core, { email: 'session@example.com', password: 'long enough pw' })
      const session = await createSession(core, user.id)
      const found = await findSession(core, session.token)
      assert.equal(found?.user.id, user.id)
      assert.equal(found?.csrfToken, session.csrfToken)
      assert.equal(await findSession(core, session.token + 'x'), null)
      const stored = await core.db.session.findFirstOrThrow({ where: { userId: user.id } })
      assert.notEqual(stored.tokenHash, session.token)
      await deleteSession(core, session.token)
      assert.equal(await findSession(core, session.token), null)
      const expired = await createSession(core, user.id, -1000)
      assert.equal(await findSession(core, expired.token), null)
    })

    test('a failed provisioning leaves nothing half-created', async () => {
      const before = await core.db.resource.count()
      await assert.rejects(createController(core, 'nowhere/pi'), /organization "nowhere" not found/)
      await assert.rejects(createOrgUser(core, 'orphan@example.com', 'long enough pw', 'nowhere', false), /not found/)
      assert.equal(await core.db.resource.count(), before)
      // a failure after folders were made inside the transaction rolls all of them back
      await assert.rejects(
        inTransaction(core.db, async (tx) => {
          await createControllerFolder(tx, 'acme/rolled-back/pi')
          throw new Error('boom')
        }),
        /boom/,
      )
      assert.equal(await findPath(core.db, '/acme/rolled-back'), null)
      assert.equal(await core.db.resource.count(), before)
      assert.equal(await core.db.user.count({ where: { email: 'orphan@example.com' } }), 0)
    })
  })
}
