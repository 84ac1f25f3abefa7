// The checked-in migrations, on both databases: they build exactly schema.prisma, Prisma's own
// engine agrees they are applied, and an upgrade keeps the data already stored.
import assert from 'node:assert/strict'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { createController, createOrg, createOrgUser } from '../../core/admin.ts'
import { authenticateKey } from '../../core/accounts/keys.ts'
import { createSession, findSession } from '../../core/accounts/sessions.ts'
import { loadConfig } from '../../core/config.ts'
import { openDatabase, type Db } from '../../core/db/index.ts'
import { migrate, migrationsRoot, readMigrations } from '../../core/db/migrate.ts'
import { openCore } from '../../core/index.ts'
import { createLogger } from '../../core/log.ts'
import { diffDatabaseToSchema, prismaPendingMigrations } from '../../scripts/schema-engine.ts'
import { freshDatabase, providers, type TestDatabase } from '../helpers/core.ts'

const silent = createLogger({ logLevel: 'silent', logFormat: 'json' })

/** A later migration as Prisma writes it: SQLite changes a table by rebuilding it, PostgreSQL alters it. */
const addNickname = {
  sqlite: `-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_User" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "email" TEXT NOT NULL,
    "userName" TEXT,
    "fullName" TEXT NOT NULL DEFAULT '',
    "nickname" TEXT,
    "passwordHash" TEXT NOT NULL,
    "role" INTEGER NOT NULL DEFAULT 0,
    "attributes" JSONB,
    "deleted" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO "new_User" ("attributes", "createdAt", "deleted", "email", "fullName", "id", "passwordHash", "role", "userName") SELECT "attributes", "createdAt", "deleted", "email", "fullName", "id", "passwordHash", "role", "userName" FROM "User";
DROP TABLE "User";
ALTER TABLE "new_User" RENAME TO "User";
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE UNIQUE INDEX "User_userName_key" ON "User"("userName");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
`,
  postgresql: `-- AlterTable
ALTER TABLE "User" ADD COLUMN "nickname" TEXT;
`,
}

const countRows = async (db: Db) => [
  await db.resource.count(),
  await db.user.count(),
  await db.session.count(),
  await db.key.count(),
]

const databases: TestDatabase[] = []
after(() => databases.forEach((db) => db.cleanup()))

async function fresh(provider: (typeof providers)[number]) {
  const db = await freshDatabase(provider)
  databases.push(db)
  return db
}

for (const provider of providers) {
  describe(`migrations on ${provider}`, () => {
    test('the checked-in migrations produce exactly schema.prisma', async () => {
      const db = await fresh(provider)
      const result = await migrate(db.database)
      assert.deepEqual(
        result.applied,
        readMigrations(provider).map((m) => m.name),
      )
      assert.equal(await diffDatabaseToSchema(provider, db.url), '')
    })

    test("Prisma's own migrate sees Tendril's history as complete, and a second run applies nothing", async () => {
      const db = await fresh(provider)
      await migrate(db.database)
      assert.deepEqual((await migrate(db.database)).applied, [])
      assert.deepEqual(await prismaPendingMigrations(provider, db.url), [])
    })

    test('an upgrade keeps the data already stored, including rows that point at a rebuilt table', async () => {
      const db = await fresh(provider)
      const config = loadConfig({ flags: { db: db.url, 'bcrypt-cost': 4 }, env: {} })
      const core = await openCore(config, silent)
      await createOrg(core, 'acme')
      const { key } = await createController(core, 'acme/lab/pi-1')
      const user = await createOrgUser(core, 'kept@example.com', 'long enough pw', 'acme', true)
      const session = await createSession(core, user.id)
      const before = await countRows(core.db)
      await core.close()

      const root = mkdtempSync(join(tmpdir(), 'tendril-migrations-'))
      cpSync(migrationsRoot, root, { recursive: true })
      mkdirSync(join(root, provider, '20270101000000_add_nickname'))
      writeFileSync(join(root, provider, '20270101000000_add_nickname', 'migration.sql'), addNickname[provider])
      try {
        const result = await migrate(db.database, root)
        assert.deepEqual(result.applied, ['20270101000000_add_nickname'])
      } finally {
        rmSync(root, { recursive: true, force: true })
      }

      const upgraded = await openCore(config, silent)
      try {
        assert.deepEqual(await countRows(upgraded.db), before)
        assert.equal((await findSession(upgraded, session.token))?.user.email, 'kept@example.com')
        assert.equal((await authenticateKey(upgraded, key))?.kind, 'controller')
        const rows = (await upgraded.db.$queryRawUnsafe(`SELECT "nickname" FROM "User"`)) as unknown[]
        assert.equal(rows.length, before[1])
      } finally {
        await upgraded.close()
      }
    })

    test('a migration that fails is rolled back and recorded nowhere', async () => {
      const db = await fresh(provider)
      await migrate(db.database)
      const root = mkdtempSync(join(tmpdir(), 'tendril-migrations-'))
      cpSync(migrationsRoot, root, { recursive: true })
      mkdirSync(join(root, provider, '20270101000000_broken'))
      writeFileSync(
        join(root, provider, '20270101000000_broken', 'migration.sql'),
        'CREATE TABLE "Half" ("id" INTEGER);\nTHIS IS NOT SQL;\n',
      )
      try {
        await assert.rejects(migrate(db.database, root))
      } finally {
        rmSync(root, { recursive: true, force: true })
      }
      const client = openDatabase(db.database)
      try {
        const recorded = (await client.$queryRawUnsafe(`SELECT migration_name FROM "_prisma_migrations"`)) as {
          migration_name: string
        }[]
        assert.deepEqual(
          recorded.map((r) => r.migration_name),
          readMigrations(provider).map((m) => m.name),
        )
        await assert.rejects(client.$queryRawUnsafe(`SELECT * FROM "Half"`))
      } finally {
        await client.$disconnect()
      }
    })
  })
}
