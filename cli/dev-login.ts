// --dev: a development admin with a fresh password, printed once the server listens.
import { randomBytes } from 'node:crypto'
import { ensureDevAdmin } from '../core/accounts/dev-admin.ts'
import type { Core } from '../core/index.ts'

export async function announceDevLogin(core: Core, port: number) {
  const password = randomBytes(12).toString('base64url')
  const email = await ensureDevAdmin(core, password)
  // printed on purpose: --dev exists to hand a developer a working login
  process.stderr.write(
    `\nTendril dev mode: http://localhost:${port}/\n  admin login: ${email}\n  password:    ${password}\n\n`,
  )
}
