// --dev hands the developer a working admin login: the dev admin's password is reset on every start.
import type { CoreContext } from '../context.ts'
import { hashPassword } from './passwords.ts'
import { Role } from './users.ts'

export const DEV_ADMIN_EMAIL = 'admin@tendril.local'

export async function ensureDevAdmin(ctx: CoreContext, password: string): Promise<string> {
  const passwordHash = await hashPassword(password, ctx.config.bcryptCost)
  await ctx.db.user.upsert({
    where: { email: DEV_ADMIN_EMAIL },
    create: { email: DEV_ADMIN_EMAIL, fullName: 'Dev Admin', passwordHash, role: Role.systemAdmin },
    update: { passwordHash, role: Role.systemAdmin, deleted: false },
  })
  return DEV_ADMIN_EMAIL
}
