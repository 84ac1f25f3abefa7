// Provisioning operations behind the admin CLI (and later the REST admin routes). Each runs in
// one transaction, so a failure leaves nothing half-created.
import type { CoreContext } from './context.ts'
import { inTransaction } from './db/index.ts'
import { notFound } from './errors.ts'
import { createKey, createUserKey } from './accounts/keys.ts'
import { addMember, createOrganization, requireOrganization } from './accounts/organizations.ts'
import { findUserByEmail, insertUser, prepareUser } from './accounts/users.ts'
import { createControllerFolder } from './resources/tree.ts'
import { checkName } from './resources/paths.ts'

export async function createAdmin(ctx: CoreContext, email: string, password: string) {
  const user = await insertUser(ctx.db, await prepareUser(ctx, { email, password, systemAdmin: true }))
  return { id: user.id, email: user.email }
}

export async function createOrg(ctx: CoreContext, name: string, fullName?: string) {
  checkName(name)
  const org = await inTransaction(ctx.db, (tx) => createOrganization(tx, name, fullName))
  return { id: org.id, name: org.name }
}

export async function createOrgUser(
  ctx: CoreContext,
  email: string,
  password: string,
  orgName: string,
  isAdmin: boolean,
) {
  const prepared = await prepareUser(ctx, { email, password })
  return inTransaction(ctx.db, async (tx) => {
    const org = await requireOrganization(tx, orgName)
    const user = await insertUser(tx, prepared)
    await addMember(tx, org.id, user.id, isAdmin)
    return { id: user.id, email: user.email, organization: org.name, admin: isAdmin }
  })
}

export async function createController(ctx: CoreContext, path: string) {
  return inTransaction(ctx.db, async (tx) => {
    const { controller, path: fullPath } = await createControllerFolder(tx, path)
    const { key } = await createKey(tx, ctx.secret, {
      organizationId: controller.organizationId!,
      owner: { controllerId: controller.id },
    })
    return { id: controller.id, path: fullPath, key }
  })
}

export async function createKeyForUser(ctx: CoreContext, email: string, orgName: string) {
  return inTransaction(ctx.db, async (tx) => {
    const user = await findUserByEmail(tx, email)
    if (!user) throw notFound(`user ${JSON.stringify(email)} not found`)
    const org = await requireOrganization(tx, orgName)
    return createUserKey(tx, ctx.secret, user.id, org.id)
  })
}
