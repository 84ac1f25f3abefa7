// PIN provisioning (rhizo's main/api/pins.py): a controller without a key asks for a PIN and a long
// secret pin_code, shows the PIN to a person, who enters it for a controller folder they can write;
// the controller, polling with pin and code, then receives its path and a new key exactly once.
// Only a keyed hash of the code is stored. PINs have 6 digits (rhizo: 4): a signed-in user who
// guesses PINs could attach a stranger's device to their own folder, so the space is larger and
// failed entries are throttled by the caller (http/routes/pins.ts).
import { randomInt } from 'node:crypto'
import type { CoreContext } from '../context.ts'
import { inTransaction } from '../db/index.ts'
import { conflict, notFound } from '../errors.ts'
import type { Principal } from '../resources/permissions.ts'
import { pathOf } from '../resources/tree.ts'
import { keyedHash, randomAlphanumeric } from './hashing.ts'
import { controllerFor } from './key-admin.ts'
import { createKey } from './keys.ts'
import { asUser, requireMayProvisionControllers } from './roles.ts'

/** rhizo's 30 minutes */
export const PIN_TTL_MS = 30 * 60_000
const PIN_MIN = 100_000
const PIN_MAX = 999_999
const PIN_CODE_LENGTH = 60
/** expired PINs are kept a while (so a late poll hears "expired", not "unknown"), then swept */
const PIN_KEEP_MS = 24 * 3600_000

const codeHashOf = (secret: string, code: string) => keyedHash(secret, 'pin:' + code)
const isExpired = (row: { createdAt: Date }, now: Date, ttlMs: number) =>
  now.getTime() - row.createdAt.getTime() >= ttlMs

export interface PinOptions {
  now?: Date
  ttlMs?: number
}

/** A new PIN whose number no other live PIN shares, so entering it names exactly one device. */
export async function requestPin(ctx: CoreContext, { now = new Date(), ttlMs = PIN_TTL_MS }: PinOptions = {}) {
  await ctx.db.pin.deleteMany({ where: { createdAt: { lt: new Date(now.getTime() - PIN_KEEP_MS) } } })
  const liveSince = new Date(now.getTime() - ttlMs)
  for (let attempt = 0; attempt < 20; attempt++) {
    const pin = randomInt(PIN_MIN, PIN_MAX + 1)
    if ((await ctx.db.pin.count({ where: { pin, createdAt: { gt: liveSince } } })) > 0) continue
    const pinCode = randomAlphanumeric(PIN_CODE_LENGTH)
    await ctx.db.pin.create({ data: { pin, codeHash: codeHashOf(ctx.secret, pinCode), createdAt: now } })
    return { pin, pinCode }
  }
  throw conflict('no free PIN; try again later')
}

export type PollResult =
  { state: 'waiting' } | { state: 'expired' } | { state: 'issued'; controllerPath: string; secretKey: string }

/**
 * What a polling controller learns: nothing yet, that its PIN expired, or (once, after a person
 * entered the PIN) its controller path and a new key. Claiming keyIssuedAt and creating the key
 * happen in one transaction, so two concurrent polls cannot both receive a key.
 */
export async function pollPin(
  ctx: CoreContext,
  pin: number,
  pinCode: string,
  { now = new Date(), ttlMs = PIN_TTL_MS }: PinOptions = {},
): Promise<PollResult> {
  const row = await ctx.db.pin.findUnique({ where: { codeHash: codeHashOf(ctx.secret, pinCode) } })
  if (!row || row.pin !== pin) throw notFound('PIN not found.')
  if (isExpired(row, now, ttlMs)) return { state: 'expired' }
  if (!row.enteredAt || row.keyIssuedAt || row.controllerId === null) return { state: 'waiting' }
  const controllerId = row.controllerId
  return inTransaction(ctx.db, async (tx): Promise<PollResult> => {
    const claimed = await tx.pin.updateMany({ where: { id: row.id, keyIssuedAt: null }, data: { keyIssuedAt: now } })
    if (claimed.count === 0) return { state: 'waiting' } // another poll got there first
    const controller = await tx.resource.findUnique({ where: { id: controllerId } })
    if (!controller || controller.deleted) throw notFound('Controller not found.')
    const { key } = await createKey(tx, ctx.secret, {
      organizationId: controller.organizationId!,
      owner: { controllerId },
      createdById: row.userId ?? undefined,
    })
    return { state: 'issued', controllerPath: await pathOf(tx, controllerId), secretKey: key }
  })
}

export type EnterResult = { state: 'entered' } | { state: 'expired' }

/**
 * A person assigns a PIN to a controller folder they can write. A PIN already entered cannot be
 * re-targeted (rhizo allowed it), so nobody can redirect a device between entry and its next poll.
 */
export async function enterPin(
  ctx: CoreContext,
  principal: Principal,
  pin: number,
  controllerPath: string,
  { now = new Date(), ttlMs = PIN_TTL_MS }: PinOptions = {},
): Promise<EnterResult> {
  const user = asUser(principal)
  const controller = await controllerFor(ctx.db, user, { path: controllerPath }, 'write')
  // the device gets a key of that organization
  await requireMayProvisionControllers(ctx.db, user, controller.organizationId!)
  const rows = await ctx.db.pin.findMany({ where: { pin }, orderBy: { createdAt: 'desc' }, take: 10 })
  const live = rows.find((r) => !isExpired(r, now, ttlMs))
  if (!live) {
    if (rows.length > 0) return { state: 'expired' }
    throw notFound('PIN not found.')
  }
  const entered = await ctx.db.pin.updateMany({
    where: { id: live.id, enteredAt: null },
    data: { enteredAt: now, userId: user.userId, controllerId: controller.id },
  })
  if (entered.count === 0) throw conflict('PIN has already been entered.')
  return { state: 'entered' }
}
