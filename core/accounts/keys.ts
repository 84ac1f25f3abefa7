// API keys: a prefix and 50 random [A-Z0-9] characters, shown once at creation. The database keeps
// only a keyed hash plus key_part (first and last 3 characters of the random part) to find the row.
import type { CoreContext } from '../context.ts'
import { Prisma, type DbClient, type Key, type Resource } from '../db/index.ts'
import { readDirectSqlite } from '../db/sqlite-connection.ts'
import { invalid, notFound } from '../errors.ts'
import { reportDiskFull } from '../disk-full.ts'
import type { Principal } from '../resources/permissions.ts'
import { providerOf } from '../resources/revisions.ts'
import { ResourceType } from '../resources/types.ts'
import { bumpCredentialsVersion } from './credentials-version.ts'
import { hashesEqual, keyedHash, randomAlphanumeric } from './hashing.ts'
import { membershipsOf } from './organizations.ts'
import { isSystemAdmin, Role } from './users.ts'

export const KEY_PREFIX = 'tdl_'
const KEY_BODY_LENGTH = 50
/** lastUsedAt is a hint, not an audit log: refresh it at most this often to spare a write per request. */
const LAST_USED_RESOLUTION_MS = 60_000

function keyBody(key: string): string {
  return key.startsWith(KEY_PREFIX) ? key.slice(KEY_PREFIX.length) : key
}

export function keyPartOf(key: string): string {
  const body = keyBody(key)
  return body.slice(0, 3) + body.slice(-3)
}

export type KeyOwner = { userId: number } | { controllerId: number }

export interface NewKey {
  organizationId: number
  owner: KeyOwner
  createdById?: number
}

/** Creates a key and returns it in clear text: the only time it is ever visible. */
export async function createKey(db: DbClient, secret: string, input: NewKey): Promise<{ id: number; key: string }> {
  const key = KEY_PREFIX + randomAlphanumeric(KEY_BODY_LENGTH)
  const row = await db.key.create({
    data: {
      organizationId: input.organizationId,
      accessAsUserId: 'userId' in input.owner ? input.owner.userId : null,
      accessAsControllerId: 'controllerId' in input.owner ? input.owner.controllerId : null,
      keyPart: keyPartOf(key),
      keyHash: keyedHash(secret, keyBody(key)),
      createdById: input.createdById ?? null,
    },
  })
  return { id: row.id, key }
}

/** Creates a key that acts as a user inside one organization the user belongs to. */
export async function createUserKey(
  db: DbClient,
  secret: string,
  userId: number,
  organizationId: number,
  createdById?: number,
) {
  const user = await db.user.findUnique({ where: { id: userId } })
  if (!user || user.deleted) throw notFound('user not found')
  const member = await db.organizationUser.findUnique({ where: { organizationId_userId: { organizationId, userId } } })
  if (!member && !isSystemAdmin(user)) throw invalid('the user is not a member of that organization')
  return createKey(db, secret, { organizationId, owner: { userId }, createdById })
}

/** Finds the principal a key acts as, or null for an unknown, revoked or orphaned key. */
export async function authenticateKey(ctx: CoreContext, key: string): Promise<Principal | null> {
  return (await authenticateKeyWithOwner(ctx, key))?.principal ?? null
}

export type KeyOwnerMatch = { principal: Principal; controller: Resource | null }

/**
 * authenticateKey, also handing back the controller folder row a controller key acts as (already
 * loaded): the broker keeps it so that the controller's own folder needs no query to authorize.
 */
export async function authenticateKeyWithOwner(ctx: CoreContext, key: string): Promise<KeyOwnerMatch | null> {
  return (await authenticateKeysWithOwner(ctx, [key]))[0] ?? null
}

/**
 * authenticateKeyWithOwner for many keys in one query (the CONNECTs of one event-loop turn in a
 * storm), with each key's controller: the answers are in the order of keys.
 */
export async function authenticateKeysWithOwner(ctx: CoreContext, keys: string[]): Promise<(KeyOwnerMatch | null)[]> {
  const wellFormed = keys.map((key) => keyBody(key).length === KEY_BODY_LENGTH)
  const parts = [...new Set(keys.filter((_, i) => wellFormed[i]).map(keyPartOf))]
  if (parts.length === 0) return keys.map(() => null)
  const candidates = new Map<string, KeyWithController[]>()
  for (const row of await keysWithControllers(ctx.db, parts)) {
    const same = candidates.get(row.keyPart)
    if (same) same.push(row)
    else candidates.set(row.keyPart, [row])
  }
  return Promise.all(
    keys.map(async (key, i) => {
      if (!wellFormed[i]) return null
      const hash = keyedHash(ctx.secret, keyBody(key))
      const part = keyPartOf(key)
      const row = candidates.get(part)?.find((c) => hashesEqual(c.keyHash, hash))
      if (!row) return null
      const principal = await principalForKey(ctx.db, row)
      if (!principal) return null
      if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) touchLastUsed(ctx, row.id)
      return { principal, controller: principal.kind === 'controller' ? row.accessAsController : null }
    }),
  )
}

/** Every column of Resource, to read a key's controller row in the key's own statement. */
const RESOURCE_COLUMNS = [
  'id',
  'parentId',
  'name',
  'type',
  'organizationId',
  'liveKey',
  'permissions',
  'systemAttributes',
  'userAttributes',
  'lastRevisionId',
  'createdAt',
  'modifiedAt',
  'deleted',
] as const satisfies readonly (keyof Resource)[]
// a column added to Resource must be added above (or the kept row would lack it)
const allResourceColumns: Exclude<keyof Resource, (typeof RESOURCE_COLUMNS)[number]> extends never ? true : never = true
void allResourceColumns
const CONTROLLER_SELECT = Prisma.raw(RESOURCE_COLUMNS.map((c) => `c."${c}" AS "c_${c}"`).join(', '))

type KeyWithController = Pick<
  Key,
  'id' | 'organizationId' | 'accessAsUserId' | 'accessAsControllerId' | 'keyPart' | 'keyHash' | 'lastUsedAt'
> & { accessAsController: Resource | null }

/**
 * The live keys with these key parts and their controller rows, in one raw statement: in a CONNECT
 * storm Prisma's findMany with include (two statements, rows mapped one by one) cost more than the rest of the lookup.
 */
async function keysWithControllers(db: DbClient, parts: string[]): Promise<KeyWithController[]> {
  const direct = readDirectSqlite(db, (sqlite) =>
    (sqlite.statement(DIRECT_KEYS_SQL).all(JSON.stringify(parts)) as Record<string, unknown>[]).map((row) =>
      keyRow(row, fromSqlite),
    ),
  )
  if (direct) return direct.result
  // on PostgreSQL one array parameter, not one per key
  const partsIn =
    providerOf(db) === 'postgresql' ? Prisma.sql`= ANY(${parts}::text[])` : Prisma.sql`IN (${Prisma.join(parts)})`
  const rows = await db.$queryRaw<Record<string, unknown>[]>`
    SELECT k.id, k."organizationId", k."accessAsUserId", k."accessAsControllerId", k."keyPart", k."keyHash", k."lastUsedAt", ${CONTROLLER_SELECT}
    FROM "Key" AS k LEFT JOIN "Resource" AS c ON c.id = k."accessAsControllerId"
    WHERE k."keyPart" ${partsIn} AND k."revokedAt" IS NULL`
  return rows.map((row) => keyRow(row, (value) => value as never))
}

/** keysWithControllers' statement on SQLite's own connection: one prepared statement for any number of parts */
const DIRECT_KEYS_SQL = `SELECT k.id, k."organizationId", k."accessAsUserId", k."accessAsControllerId", k."keyPart", k."keyHash",
    k."lastUsedAt", ${CONTROLLER_SELECT.sql}
  FROM "Key" AS k LEFT JOIN "Resource" AS c ON c.id = k."accessAsControllerId"
  WHERE k."keyPart" IN (SELECT value FROM json_each(?)) AND k."revokedAt" IS NULL`

type Column = 'int' | 'json' | 'date' | 'boolean'
/**
 * better-sqlite3 gives integers as BigInt, booleans as 0/1, JSON and dates as text: converted as Prisma's adapter does
 */
function fromSqlite(value: unknown, type: Column): never {
  if (value === null) return null as never
  if (type === 'int') return Number(value) as never
  if (type === 'boolean') return (Number(value) !== 0) as never
  if (type === 'json') return JSON.parse(value as string) as never
  if (typeof value !== 'string') return new Date(Number(value)) as never
  // ISO 8601 as Prisma writes it, or SQLite's own CURRENT_TIMESTAMP (UTC, no zone)
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value.replace(' ', 'T')}Z`) as never
}

/** A row of keysWithControllers' statement, each column through read (objects built whole: a storm maps thousands) */
function keyRow(row: Record<string, unknown>, read: (value: unknown, type: Column) => never): KeyWithController {
  return {
    id: read(row.id, 'int'),
    organizationId: read(row.organizationId, 'int'),
    accessAsUserId: read(row.accessAsUserId, 'int'),
    accessAsControllerId: read(row.accessAsControllerId, 'int'),
    keyPart: row.keyPart as string,
    keyHash: row.keyHash as string,
    lastUsedAt: read(row.lastUsedAt, 'date'),
    accessAsController:
      row.c_id === null
        ? null
        : {
            id: read(row.c_id, 'int'),
            parentId: read(row.c_parentId, 'int'),
            name: row.c_name as string,
            type: read(row.c_type, 'int'),
            organizationId: read(row.c_organizationId, 'int'),
            liveKey: row.c_liveKey as string | null,
            permissions: read(row.c_permissions, 'json'),
            systemAttributes: read(row.c_systemAttributes, 'json'),
            userAttributes: read(row.c_userAttributes, 'json'),
            lastRevisionId: read(row.c_lastRevisionId, 'int'),
            createdAt: read(row.c_createdAt, 'date'),
            modifiedAt: read(row.c_modifiedAt, 'date'),
            deleted: read(row.c_deleted, 'boolean'),
          },
  }
}

/**
 * lastUsedAt writes wait for a quiet second (at most half a minute), so a reconnect storm writes
 * its keys' uses once, after it, instead of beside its CONNECTs.
 */
const LAST_USED_QUIET_MS = 1000
const LAST_USED_MAX_WAIT_MS = 30_000
/** ids per UPDATE, inside both providers' bound-parameter limits */
const LAST_USED_CHUNK = 5000
const lastUsedQueues = new WeakMap<DbClient, { ids: Set<number>; lastTouch: number; write: () => Promise<void> }>()
/**
 * clients being closed: a write queued after that would open a new connection (Prisma reconnects) and hold the process
 * open
 */
const closing = new WeakSet<DbClient>()

/** Records the use of a key in the next batch of lastUsedAt writes (a hint: a failed write is only logged). */
function touchLastUsed(ctx: CoreContext, keyId: number) {
  if (closing.has(ctx.db)) return
  let queued = lastUsedQueues.get(ctx.db)
  if (!queued) {
    const ids = new Set<number>()
    const first = Date.now()
    const write = async () => {
      clearTimeout(timer)
      lastUsedQueues.delete(ctx.db)
      const all = [...ids]
      const now = new Date()
      for (let i = 0; i < all.length; i += LAST_USED_CHUNK) {
        await ctx.db.key
          .updateMany({ where: { id: { in: all.slice(i, i + LAST_USED_CHUNK) } }, data: { lastUsedAt: now } })
          .catch(
            (err: Error) =>
              reportDiskFull(ctx.log, err, 'key use') || ctx.log.warn({ err }, 'recording key use failed'),
          )
      }
    }
    // checks once a quiet period: no per-use timer work on the CONNECT path
    const check = () => {
      const now = Date.now()
      if (now - queued!.lastTouch < LAST_USED_QUIET_MS && now - first < LAST_USED_MAX_WAIT_MS)
        return void timer.refresh()
      void write()
    }
    const timer = setTimeout(check, LAST_USED_QUIET_MS).unref()
    lastUsedQueues.set(ctx.db, (queued = { ids, lastTouch: first, write }))
  }
  queued.ids.add(keyId)
  queued.lastTouch = Date.now()
}

/** Writes the key uses still waiting, and records no more: the client is about to be closed. */
export async function flushKeyUse(db: DbClient): Promise<void> {
  closing.add(db)
  await lastUsedQueues.get(db)?.write()
}

/** The principal of a key by its id (an MQTT token issued for it, tokens.ts); null once revoked or orphaned. */
export async function principalOfKeyId(db: DbClient, keyId: number): Promise<Principal | null> {
  const row = await db.key.findFirst({ where: { id: keyId, revokedAt: null }, include: { accessAsController: true } })
  return row ? principalForKey(db, row) : null
}

async function principalForKey(
  db: DbClient,
  row: {
    id: number
    organizationId: number
    accessAsUserId: number | null
    accessAsControllerId: number | null
    accessAsController: Resource | null
  },
): Promise<Principal | null> {
  if (row.accessAsControllerId !== null) {
    const controller = row.accessAsController
    if (!controller || controller.deleted || controller.type !== ResourceType.controllerFolder) return null
    return { kind: 'controller', controllerId: controller.id, organizationId: row.organizationId, keyId: row.id }
  }
  if (row.accessAsUserId === null) return null
  const user = await db.user.findUnique({ where: { id: row.accessAsUserId } })
  if (!user || user.deleted) return null
  const member = (await membershipsOf(db, user.id)).some((m) => m.organizationId === row.organizationId)
  // as stillValidKeys: a user's key is theirs while they belong to its organization (or are an admin)
  if (!member && !isSystemAdmin(user)) return null
  // never a system admin through a key: a system admin's key administers its organization, no more
  return {
    kind: 'user',
    userId: user.id,
    systemAdmin: false,
    organizationIds: [row.organizationId],
    scopeOrganizationId: row.organizationId,
    keyId: row.id,
    ...(isSystemAdmin(user) ? { administersScope: true } : {}),
  }
}

/**
 * Of keyIds, those that are still valid: not revoked, their controller not deleted, their user not
 * deleted and a member of the key's organization or a system admin (isSystemAdmin). One query, run by
 * revalidation for every key that connected in the last second: after a storm of connections
 * Prisma's nested read of a thousand keys held the event loop for tens of milliseconds.
 */
export async function stillValidKeys(db: DbClient, keyIds: number[]): Promise<Set<number>> {
  if (keyIds.length === 0) return new Set()
  const rows = await db.$queryRaw<{ id: number | bigint }[]>`
    SELECT k.id FROM "Key" AS k
    LEFT JOIN "Resource" AS c ON c.id = k."accessAsControllerId"
    LEFT JOIN "User" AS u ON u.id = k."accessAsUserId"
    WHERE k.id IN (${Prisma.join(keyIds)}) AND k."revokedAt" IS NULL
      AND (k."accessAsControllerId" IS NULL OR (c.id IS NOT NULL AND NOT c.deleted))
      AND (k."accessAsUserId" IS NULL OR (u.id IS NOT NULL AND NOT u.deleted AND (u.role = ${Role.systemAdmin}
        OR EXISTS (SELECT 1 FROM "OrganizationUser" AS m WHERE m."userId" = u.id AND m."organizationId" = k."organizationId"))))`
  return new Set(rows.map((r) => Number(r.id)))
}

export async function revokeKey(db: DbClient, keyId: number, revokedById?: number) {
  const row = await db.key.findUnique({ where: { id: keyId } })
  if (!row) throw notFound('key not found')
  if (row.revokedAt) return row
  const revoked = await db.key.update({
    where: { id: keyId },
    data: { revokedAt: new Date(), revokedById: revokedById ?? null },
  })
  await bumpCredentialsVersion(db) // live MQTT sessions of the key close within a second
  return revoked
}
