// Controllers provisioned as users provision them: an organization admin's key, then per controller
// POST /api/v1/resources type=12 (which also makes its log and status/ sequences) and
// POST /api/v1/keys controller_path=…, over HTTP, `concurrency` controllers at a time.
import { createKey } from '../../core/accounts/keys.ts'
import { addMember, createOrganization } from '../../core/accounts/organizations.ts'
import { createUser } from '../../core/accounts/users.ts'
import { inTransaction } from '../../core/db/index.ts'
import type { Core } from '../../core/index.ts'
import { ResourceType } from '../../core/resources/types.ts'

export interface ProvisionedController {
  /** MQTT topic of the controller's folder, e.g. "acme/pi-1" */
  topic: string
  key: string
}

export async function provisionControllers(
  core: Core,
  httpUrl: string,
  count: number,
  options: { org?: string; concurrency?: number } = {},
): Promise<ProvisionedController[]> {
  const { org = 'acme', concurrency = 16 } = options
  const organization = await inTransaction(core.db, (tx) => createOrganization(tx, org))
  const admin = await createUser(core, { email: `admin@${org}.example`, password: 'bench-password-1' })
  await addMember(core.db, organization.id, admin.id, true)
  const { key: adminKey } = await createKey(core.db, core.secret, {
    organizationId: organization.id,
    owner: { userId: admin.id },
  })
  const auth = 'Basic ' + Buffer.from(`bench:${adminKey}`).toString('base64')
  const post = async (path: string, body: Record<string, unknown>) => {
    const res = await fetch(httpUrl + path, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    const json = (await res.json()) as { status: string; message?: string; secret_key?: string }
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${json.message ?? ''}`)
    return json
  }
  const out: ProvisionedController[] = new Array(count)
  let next = 0
  const lane = async () => {
    while (next < count) {
      const i = next++
      const name = `pi-${i + 1}`
      await post('/api/v1/resources', { path: org, name, type: ResourceType.controllerFolder })
      const { secret_key } = await post('/api/v1/keys', { controller_path: `${org}/${name}` })
      out[i] = { topic: `${org}/${name}`, key: secret_key! }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  return out
}
