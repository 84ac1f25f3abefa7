// Admin commands: provisioning that scripts rely on. Each prints one JSON object with --json.
// They open the database like the server does, so they work beside a running server.
import type { Command } from 'commander'
import { createAdmin, createController, createKeyForUser, createOrg, createOrgUser } from '../core/admin.ts'
import { openCore, type Core } from '../core/index.ts'
import { createLogger } from '../core/log.ts'
import { configFor, UsageError, withStorageOptions } from './options.ts'

async function withCore<T>(cmd: Command, fn: (core: Core) => Promise<T>): Promise<T> {
  const config = configFor(cmd)
  // stdout belongs to the command's result, so logs go to stderr and only when they matter
  const log = createLogger({ logLevel: cmd.opts().logLevel ? config.logLevel : 'warn', logFormat: 'json' }, 2)
  const core = await openCore(config, log)
  try {
    return await fn(core)
  } finally {
    await core.close()
  }
}

/** EMAIL:PASSWORD, split at the first colon (an email has none; a password may). */
function credentials(arg: string): { email: string; password: string } {
  const at = arg.indexOf(':')
  if (at <= 0 || at === arg.length - 1) throw new UsageError('expected EMAIL:PASSWORD')
  return { email: arg.slice(0, at), password: arg.slice(at + 1) }
}

function print(cmd: Command, result: Record<string, unknown>, human: string) {
  process.stdout.write((cmd.opts().json ? JSON.stringify(result) : human) + '\n')
}

function adminCommand(program: Command, spec: string, description: string): Command {
  return withStorageOptions(program.command(spec).description(description)).option('--json', 'print one JSON object')
}

export function registerAdminCommands(program: Command) {
  adminCommand(program, 'migrate', 'apply pending database migrations').action(async (_o, cmd: Command) => {
    // openCore migrates; reporting what it applied is the whole job
    const { migrate } = await import('../core/db/migrate.ts')
    const result = await migrate(configFor(cmd).database)
    print(
      cmd,
      { applied: result.applied },
      result.applied.length ? `applied ${result.applied.join(', ')}` : 'database is up to date',
    )
  })

  adminCommand(program, 'create-admin <email:password>', 'create a system administrator').action(
    async (arg: string, _o, cmd: Command) => {
      const { email, password } = credentials(arg)
      const admin = await withCore(cmd, (core) => createAdmin(core, email, password))
      print(cmd, admin, `created system admin ${admin.email} (id ${admin.id})`)
    },
  )

  adminCommand(program, 'create-org <name>', 'create an organization')
    .option('--full-name <text>', 'display name')
    .action(async (name: string, opts: { fullName?: string }, cmd: Command) => {
      const org = await withCore(cmd, (core) => createOrg(core, name, opts.fullName))
      print(cmd, org, `created organization ${org.name} (id ${org.id})`)
    })

  adminCommand(program, 'create-user <email:password>', 'create a user in an organization')
    .requiredOption('--org <name>', 'organization the user joins')
    .option('--admin', 'make the user an administrator of the organization')
    .action(async (arg: string, opts: { org: string; admin?: boolean }, cmd: Command) => {
      const { email, password } = credentials(arg)
      const user = await withCore(cmd, (core) => createOrgUser(core, email, password, opts.org, Boolean(opts.admin)))
      print(
        cmd,
        user,
        `created user ${user.email} (id ${user.id}) in ${user.organization}${user.admin ? ' as admin' : ''}`,
      )
    })

  adminCommand(program, 'create-controller <org/path>', 'create a controller folder and its key').action(
    async (path: string, _o, cmd: Command) => {
      const controller = await withCore(cmd, (core) => createController(core, path))
      print(
        cmd,
        controller,
        `created controller ${controller.path} (id ${controller.id})\nkey: ${controller.key}\n(the key is shown only now; store it on the controller)`,
      )
    },
  )

  adminCommand(program, 'create-key', 'create an API key that acts as a user in one organization')
    .requiredOption('--user <email>', 'user the key acts as')
    .requiredOption('--org <name>', 'organization the key is limited to')
    .action(async (opts: { user: string; org: string }, cmd: Command) => {
      const key = await withCore(cmd, (core) => createKeyForUser(core, opts.user, opts.org))
      print(cmd, key, `created key ${key.id}\nkey: ${key.key}\n(the key is shown only now)`)
    })
}
