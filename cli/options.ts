// Command-line flags, made from the settings schema so that every setting has its flag, and the
// translation of commander's parsed options into config sources (only the flags actually given).
import type { Command } from 'commander'
import { loadConfig, settingNames, settingsSchema, type Config, type SettingName } from '../core/config.ts'

/** Bad use of the command line: main.ts exits 2 with its message. */
export class UsageError extends Error {}

const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())

/** Settings every command needs: where the data is, how to log, how to hash. */
const STORAGE_SETTINGS: SettingName[] = [
  'data-dir',
  'db',
  'blobstore',
  'inline-bytes',
  'secret',
  'bcrypt-cost',
  'password-min-length',
  'log-level',
  'log-format',
]
const SERVER_SETTINGS = settingNames.filter((name) => !STORAGE_SETTINGS.includes(name))

export function givenFlags(cmd: Command): Partial<Record<SettingName, unknown>> {
  const opts = cmd.opts()
  const flags: Partial<Record<SettingName, unknown>> = {}
  for (const name of settingNames) {
    const value = opts[camel(name)]
    if (value !== undefined) flags[name] = value
  }
  return flags
}

function addSettingFlags(cmd: Command, names: SettingName[]): Command {
  for (const name of names) {
    const schema = settingsSchema.shape[name]
    const parsed = schema.safeParse(undefined)
    const fallback = parsed.success && parsed.data !== undefined ? ` [${String(parsed.data)}]` : ''
    const boolean = parsed.success && typeof parsed.data === 'boolean'
    cmd.option(boolean ? `--${name}` : `--${name} <value>`, (schema.description ?? '') + (boolean ? '' : fallback))
  }
  return cmd
}

export function withStorageOptions(cmd: Command): Command {
  return addSettingFlags(cmd.option('--config <file>', 'YAML or JSON config file'), STORAGE_SETTINGS)
}

/** Storage settings plus everything a running server uses (ports, limits, mail, Redis, …). */
export function withAllOptions(cmd: Command): Command {
  return addSettingFlags(withStorageOptions(cmd), SERVER_SETTINGS)
}

/** The effective settings of a command: its flags, then TENDRIL_* variables, then --config's file. */
export function configFor(cmd: Command): Config {
  return loadConfig({ flags: givenFlags(cmd), env: process.env, configFile: cmd.opts().config })
}
