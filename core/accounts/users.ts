// Users: creation with validated email and bcrypt password, and sign-in checks.
import { z } from 'zod'
import type { CoreContext } from '../context.ts'
import { isUniqueViolation, type DbClient } from '../db/index.ts'
import { conflict, invalid } from '../errors.ts'
import { checkPasswordRules, hashPassword, UNUSABLE_HASH, verifyPassword } from './passwords.ts'

/** rhizo's role numbers */
export const Role = { standard: 0, systemAdmin: 2 } as const

const emailSchema = z.email()

export function normalizeEmail(email: string): string {
  const normalized = email.trim().toLowerCase()
  if (!emailSchema.safeParse(normalized).success) throw invalid(`not a valid email address: ${JSON.stringify(email)}`)
  return normalized
}

export interface NewUser {
  email: string
  password: string
  fullName?: string
  systemAdmin?: boolean
}

/** Hashes outside any transaction: bcrypt takes ~250 ms at cost 12 and must not hold a database lock. */
export async function prepareUser(ctx: CoreContext, input: NewUser) {
  const email = normalizeEmail(input.email)
  checkPasswordRules(input.password, ctx.config.passwordMinLength)
  const passwordHash = await hashPassword(input.password, ctx.config.bcryptCost)
  return {
    email,
    passwordHash,
    fullName: input.fullName ?? '',
    role: input.systemAdmin ? Role.systemAdmin : Role.standard,
  }
}

export async function insertUser(db: DbClient, prepared: Awaited<ReturnType<typeof prepareUser>>) {
  try {
    return await db.user.create({ data: prepared })
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(`a user with email ${prepared.email} already exists`)
    throw err
  }
}

export async function createUser(ctx: CoreContext, input: NewUser) {
  return insertUser(ctx.db, await prepareUser(ctx, input))
}

export async function findUserByEmail(db: DbClient, email: string) {
  return db.user.findFirst({ where: { email: email.trim().toLowerCase(), deleted: false } })
}

/** Returns the user when the password matches; compares against a dummy hash when there is no such user. */
export async function checkCredentials(ctx: CoreContext, email: string, password: string) {
  const user = await findUserByEmail(ctx.db, email)
  const ok = await verifyPassword(password, user?.passwordHash ?? UNUSABLE_HASH)
  return ok && user ? user : null
}

export function isSystemAdmin(user: { role: number }): boolean {
  return user.role === Role.systemAdmin
}
