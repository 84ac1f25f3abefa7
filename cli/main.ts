// The `tendril` command line. Exit status: 0 ok, 1 the operation failed, 2 bad usage or settings.
import { Command, CommanderError } from 'commander'
import { ConfigError, describeConfig } from '../core/config.ts'
import { TendrilError } from '../core/errors.ts'
import { version } from '../core/version.ts'
import { configFor, UsageError, withAllOptions, withStorageOptions } from './options.ts'
import { registerAdminCommands } from './admin.ts'
import { registerBackupCommands } from './backup.ts'
import { serve } from './serve.ts'
import { requestRestart } from './workers.ts'

function buildProgram(): Command {
  const program = new Command('tendril')
    .description('Tendril IoT data platform')
    .version(version)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError(false)

  withAllOptions(
    program.command('serve').description('run the server: HTTP (REST, /mqtt, /api/v1/websocket) and MQTT over TCP'),
  ).action(async (_opts, cmd: Command) => serve(configFor(cmd)))

  withStorageOptions(
    program
      .command('restart')
      .description('replace the workers of the running `tendril serve --workers` one at a time'),
  ).action((_opts, cmd: Command) => void process.stdout.write(requestRestart(configFor(cmd)) + '\n'))

  withAllOptions(program.command('config').description('print the effective settings, secrets redacted')).action(
    (_opts, cmd: Command) => {
      process.stdout.write(JSON.stringify(describeConfig(configFor(cmd)), null, 2) + '\n')
    },
  )

  registerAdminCommands(program)
  registerBackupCommands(program)
  for (const cmd of program.commands) cmd.exitOverride()
  return program
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv)
    return 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has printed its message; help and --version are not errors
      return err.exitCode === 0 ? 0 : 2
    }
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`tendril: ${err.message}\n`)
      return 2
    }
    if (err instanceof TendrilError) {
      process.stderr.write(`tendril: ${err.message}\n`)
      return 1
    }
    process.stderr.write(`tendril: ${(err as Error)?.message ?? String(err)}\n`)
    return 1
  }
}
