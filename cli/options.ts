// Turns commander's parsed options into the config sources, keeping only the flags actually given.
import type { Command } from 'commander'
import { settingNames, type SettingName } from '../core/config.ts'

const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())

export function givenFlags(cmd: Command): Partial<Record<SettingName, unknown>> {
  const opts = cmd.opts()
  const flags: Partial<Record<SettingName, unknown>> = {}
  for (const name of settingNames) {
    const value = opts[camel(name)]
    if (value !== undefined) flags[name] = value
  }
  return flags
}

/** Options every command takes: where the data is and how to log. */
export function withStorageOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'YAML or JSON config file')
    .option('--data-dir <dir>', 'data directory (embedded database, blobs) [./data]')
    .option('--db <url>', 'database URL: file:PATH or postgresql://…')
    .option('--blobstore <spec>', 'bulk storage: fs[:DIR], s3://bucket?endpoint=…, memory:, mirror:A,B [fs]')
    .option('--inline-bytes <n>', 'revisions up to this size stay in the database [1000]')
    .option('--secret <secret>', 'server secret (default: generated and kept in the database)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent [info]')
    .option('--log-format <format>', 'json|pretty [json]')
    .option('--bcrypt-cost <n>', 'bcrypt cost for passwords [12]')
    .option('--password-min-length <n>', 'minimum password length [10]')
}
