// /api/v1/users (rhizo's main/api/users.py): system admins create (POST), list (GET) and delete
// (DELETE /<id>, soft) users; anyone signed in reads and updates their own account at
// /api/v1/users/current (or their id): full_name, and password with old_password; a system admin
// also sets system_admin of others (PUT /<id>).
import { Router } from 'express'
import { z } from 'zod'
import type { Throttles } from '../../core/accounts/throttle.ts'
import {
  createUserAs,
  deleteUserAs,
  getUserAs,
  listUsersAs,
  updateUserAs,
  WrongPassword,
  type UserRef,
} from '../../core/accounts/user-admin.ts'
import type { Core } from '../../core/index.ts'
import { invalid, rateLimited } from '../../core/errors.ts'
import { databaseId, strictFlag } from '../request-values.ts'

export const createBody = z.object({
  email_address: z.string().min(1).max(320),
  password: z.string().min(1).max(1024),
  full_name: z.string().trim().max(200).optional(),
  system_admin: strictFlag.optional(),
})
export const updateBody = z.object({
  full_name: z.string().trim().min(1).max(200).optional(),
  password: z.string().min(1).max(1024).optional(),
  old_password: z.string().max(1024).optional(),
  system_admin: strictFlag.optional(),
})

// Unlike other routes (http/request-values.ts) these read the body only: they carry passwords, and
// a query string ends up in access logs.

/** wrong old passwords per user, like failed sign-ins */
const OLD_PASSWORD_LIMIT = { max: 10, windowMs: 15 * 60_000 }

/** The :user of a URL: "current" (or "self") or a numeric id. */
export const userParam = z.union([z.enum(['current', 'self']).transform(() => 'current' as const), databaseId])

function userRef(raw: unknown): UserRef {
  const ref = userParam.safeParse(raw)
  if (!ref.success) throw invalid('a user is "current" or a numeric id')
  return ref.data
}

export function userRoutes(core: Core, throttles: Throttles): Router {
  const router = Router()
  const wrongOldPasswords = throttles.limit('old-password', OLD_PASSWORD_LIMIT)

  router.get('/api/v1/users', async (_req, res) => {
    const users = await listUsersAs(core, res.locals.principal)
    res.json(Object.fromEntries(users.map((u) => [u.id, u])))
  })

  router.post('/api/v1/users', async (req, res) => {
    const body = createBody.safeParse({ ...(req.body as object | undefined) })
    if (!body.success) throw invalid('expected email_address, password, and optionally full_name and system_admin')
    const user = await createUserAs(core, res.locals.principal, {
      email: body.data.email_address,
      password: body.data.password,
      fullName: body.data.full_name,
      systemAdmin: body.data.system_admin,
    })
    res.json({ status: 'ok', id: user.id, user })
  })

  router.get('/api/v1/users/:user', async (req, res) => {
    res.json(await getUserAs(core, res.locals.principal, userRef(req.params.user)))
  })

  router.put('/api/v1/users/:user', async (req, res) => {
    const ref = userRef(req.params.user)
    const body = updateBody.safeParse({ ...(req.body as object | undefined) })
    if (!body.success) throw invalid('expected full_name, system_admin, or password with old_password')
    const caller = res.locals.principal
    const throttleKey = caller.kind === 'user' ? String(caller.userId) : 'anonymous'
    const changingPassword = body.data.password !== undefined
    if (changingPassword && !(await wrongOldPasswords.attempt(throttleKey)))
      throw rateLimited('too many wrong passwords; try again later')
    try {
      const user = await updateUserAs(core, caller, ref, {
        fullName: body.data.full_name,
        password: body.data.password,
        oldPassword: body.data.old_password,
        keepSessionToken: res.locals.session?.token,
        systemAdmin: body.data.system_admin,
      })
      if (changingPassword) await wrongOldPasswords.refund(throttleKey)
      res.json({ status: 'ok', user })
    } catch (err) {
      // only a wrong old password counts
      if (changingPassword && !(err instanceof WrongPassword)) await wrongOldPasswords.refund(throttleKey)
      throw err
    }
  })

  router.delete('/api/v1/users/:user', async (req, res) => {
    const ref = userRef(req.params.user)
    if (ref === 'current') throw invalid('you cannot delete your own account')
    await deleteUserAs(core, res.locals.principal, ref)
    res.json({ status: 'ok' })
  })

  return router
}
