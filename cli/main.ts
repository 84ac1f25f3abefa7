// The `tendril` command line. Exit status: 0 ok, 1 the operation failed, 2 bad usage or settings.
import { Command, CommanderError } from 'commander'
import { ConfigError, loadConfig, describeConfig, type Config } from '../core/config.ts'
import { TendrilError } from '../core/errors.ts'
import { version } from '../core/version.ts'
import { givenFlags, withStorageOptions } from './options.ts'
import { registerAdminCommands } from './admin.ts'
import { serve } from './serve.ts'

export class UsageError extends Error {}

export function configFor(cmd: Command): Config {
  return loadConfig({ flags: givenFlags(cmd), env: process.env, configFile: cmd.opts().config })
}

function buildProgram(): Command {
  const program = new Command('tendril')
    .description('Tendril IoT data platform')
    .version(version)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError(false)

  withStorageOptions(program.command('serve').description('run the server (HTTP API and web UI)'))
    .option('--port <port>', 'HTTP port [8080]')
    .option('--host <address>', 'address to listen on [0.0.0.0]')
    .option('--mqtt-port <port>', 'MQTT over TCP port; 0 disables [1883]')
    .option('--mqtt-max-packet-size <bytes>', 'largest MQTT packet accepted [1048576]')
    .option('--mqtt-publish-rate <n>', 'PUBLISH packets per second per client; 0 = unlimited [2000]')
    .option('--mqtt-connections-per-key <n>', 'MQTT sessions one key may hold [20]')
    .option('--mqtt-connect-timeout <ms>', 'time allowed to send CONNECT [10000]')
    .option('--message-history-count <n>', 'messages kept per folder [1000]')
    .option('--message-history-days <days>', 'days messages are kept [30]')
    .option('--smtp-url <url>', 'SMTP server for emails, smtp://user:pass@host:587')
    .option('--email-from <address>', 'sender of the emails Tendril sends [tendril@localhost]')
    .option('--sms-webhook <url>', 'URL receiving POST {to, message} for text messages')
    .option('--redis <url>', 'Redis for shared broker state across instances')
    .option('--broker-id <id>', 'stable id of this instance')
    .option('--shutdown-timeout <ms>', 'drain time on SIGTERM [5000]')
    .option('--dev', 'development mode: prints a ready admin login')
    .action(async (_opts, cmd: Command) => serve(configFor(cmd)))

  withStorageOptions(program.command('config').description('print the effective settings, secrets redacted'))
    .option('--port <port>', 'HTTP port')
    .option('--host <address>', 'address to listen on')
    .option('--mqtt-port <port>', 'MQTT over TCP port')
    .option('--redis <url>', 'Redis URL')
    .option('--broker-id <id>', 'instance id')
    .option('--shutdown-timeout <ms>', 'drain time on SIGTERM')
    .option('--dev', 'development mode')
    .action((_opts, cmd: Command) => {
      process.stdout.write(JSON.stringify(describeConfig(configFor(cmd)), null, 2) + '\n')
    })

  registerAdminCommands(program)
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
