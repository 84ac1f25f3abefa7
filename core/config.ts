// One typed configuration object, parsed once at start-up and passed down.
// Precedence: command-line flag > TENDRIL_* environment variable > config file > default.
import { readFileSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import proxyAddr from 'proxy-addr'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { readTlsFiles, type TlsFiles } from './tls.ts'

const port = z.coerce.number().int().min(0).max(65535)
const bool = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v)),
])

/** Every setting, keyed by its flag name; each has a TENDRIL_<FLAG> variable and a config-file key. */
export const settingsSchema = z.object({
  port: port
    .default(8080)
    .describe('HTTP port (REST API, MQTT over WebSocket, the JSON websocket); 0 picks a free port'),
  host: z.string().min(1).default('0.0.0.0').describe('address to listen on'),
  'mqtt-port': port.default(1883).describe('MQTT over TCP port; 0 disables it (MQTT over WebSocket stays on /mqtt)'),
  'data-dir': z.string().min(1).default('./data').describe('where the embedded database and blobs live'),
  db: z
    .string()
    .optional()
    .describe('database URL: file:PATH (SQLite) or postgresql://… (default: SQLite in the data dir)'),
  'tls-cert': z
    .string()
    .min(1)
    .optional()
    .describe('PEM certificate (chain) file: HTTPS on --port and MQTT over TLS on --mqtt-port; needs --tls-key'),
  'tls-key': z.string().min(1).optional().describe('PEM private key file of --tls-cert'),
  'mqtt-max-packet-size': z.coerce
    .number()
    .int()
    .min(1024)
    .max(256 << 20)
    .default(1 << 20)
    .describe('largest MQTT packet accepted, in bytes; a larger one closes the connection'),
  'mqtt-publish-rate': z.coerce
    .number()
    .int()
    .min(0)
    .default(2000)
    .describe('PUBLISH packets per second one client may send (bursts of twice that); 0 = unlimited'),
  'mqtt-connections-per-key': z.coerce
    .number()
    .int()
    .min(1)
    .default(20)
    .describe('simultaneous MQTT sessions one key may hold (on all instances together with --redis)'),
  'mqtt-connect-timeout': z.coerce
    .number()
    .int()
    .min(100)
    .default(10000)
    .describe('ms a new connection has to send CONNECT'),
  'mqtt-drain-timeout': z.coerce
    .number()
    .int()
    .min(100)
    .default(10000)
    .describe('ms a subscriber may leave its connection backed up (not reading what it is sent) before it is closed'),
  'mqtt-retained-per-org': z.coerce
    .number()
    .int()
    .min(0)
    .default(1000)
    .describe(
      'retained MQTT messages one organization may hold (topics); a retained publish beyond them is relayed but not kept',
    ),
  'mqtt-max-queued': z.coerce
    .number()
    .int()
    .min(1)
    .default(1000)
    .describe('QoS 1/2 messages kept for a persistent session while its client is away; newer ones are dropped'),
  'message-history-count': z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000_000)
    .default(1000)
    .describe('messages kept per folder (0: none kept, messages are only relayed)'),
  'message-history-days': z.coerce.number().min(0.01).max(3650).default(30).describe('days messages are kept'),
  'message-history-trim-interval': z.coerce
    .number()
    .int()
    .min(100)
    .max(86_400_000)
    .default(600_000)
    .describe('ms between the trims that hold each folder to those bounds'),
  'watchdog-interval': z.coerce
    .number()
    .int()
    .min(100)
    .max(3_600_000)
    .default(60_000)
    .describe('ms between checks for controllers whose watchdog went stale (notices due, failed ones retried)'),
  'auto-create-sequences': bool
    .default(true)
    .describe(
      'a value a controller sends for a missing sequence in its own folder creates it (numeric, text or image); false refuses it (per folder: system attribute auto_create_sequences)',
    ),
  'retention-interval': z.coerce
    .number()
    .int()
    .min(100)
    .max(86_400_000)
    .default(60_000)
    .describe('ms between passes that trim sequences to their max_history'),
  'smtp-url': z
    .string()
    .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL')
    .optional()
    .describe('SMTP server for send_email and watchdog notices, e.g. smtp://user:pass@mail.example.com:587'),
  'email-from': z.string().min(3).default('tendril@localhost').describe('sender address of the emails Tendril sends'),
  'sms-webhook': z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('URL that receives POST {"to", "message"} for send_sms/send_text_message'),
  redis: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional()
    .describe('Redis URL: shared broker state and messages across instances (default: in-memory, one instance)'),
  workers: z.coerce
    .number()
    .int()
    .min(1)
    .max(256)
    .default(1)
    .describe('processes that serve together on the same ports, one per core at most (more than one needs --redis)'),
  'broker-id': z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (at most 64)')
    .optional()
    .describe('stable id of this instance among several (default: the host name and port)'),
  blobstore: z
    .string()
    .min(1)
    .default('fs')
    .describe(
      'bulk storage for large revisions: fs[:DIR], s3://bucket[/prefix]?endpoint=…&region=…, memory:, mirror:A,B',
    ),
  'sqlite-synchronous': z
    .enum(['full', 'normal'])
    .default('full')
    .describe(
      'SQLite commit durability: full answers a write once it is on disk (flushed off the event loop, one flush shared by concurrent writes); normal answers at once, and a power cut or OS crash may lose the last ~200 ms of writes',
    ),
  'inline-bytes': z.coerce
    .number()
    .int()
    .min(0)
    .max(1 << 20)
    .default(1000)
    .describe('revisions up to this size stay in the database; larger ones go to the blob store'),
  'text-value-limit': z.coerce
    .number()
    .int()
    .min(64)
    .max(64 << 20)
    .default(64 << 10)
    .describe('largest value of a text sequence, in bytes (413 over REST; refused with a log line over MQTT)'),
  'history-response-limit': z.coerce
    .number()
    .int()
    .min(1024)
    .max(256 << 20)
    .default(16 << 20)
    .describe(
      'bytes of values one history read (GET a sequence with count or a range) returns; older values beyond it are left out and the answer says truncated: true',
    ),
  'upload-limit': z.coerce
    .number()
    .int()
    .min(1024)
    .max(2 ** 40)
    .default(64 << 20)
    .describe('largest file upload or zip download through REST, in bytes (413 above it)'),
  secret: z
    .string()
    .min(32, 'must be at least 32 characters')
    .optional()
    .describe('server secret for key hashing and tokens (default: generated once and kept in the database)'),
  'bcrypt-cost': z.coerce.number().int().min(4).max(15).default(12).describe('bcrypt cost factor for passwords'),
  'password-min-length': z.coerce.number().int().min(6).max(128).default(10).describe('minimum password length'),
  'log-level': z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('log level'),
  'log-format': z.enum(['json', 'pretty']).default('json').describe('pino JSON or human-readable logs'),
  'trust-proxy': z
    .string()
    .min(1)
    .default('loopback')
    .describe(
      'reverse proxies (load balancers, TLS terminators) believed about the client address and scheme (X-Forwarded-For/-Proto/-Host): a comma list of addresses and subnets, or loopback, linklocal, uniquelocal; a hop count; or false for none',
    ),
  'shutdown-timeout': z.coerce
    .number()
    .int()
    .min(100)
    .max(60000)
    .default(5000)
    .describe('ms to drain connections on SIGTERM before closing'),
  metrics: bool
    .default(false)
    .describe('serve Prometheus metrics at /metrics on --port (--metrics-port alone turns them on too)'),
  'metrics-port': port
    .optional()
    .describe('serve /metrics on this port of its own instead of on --port (0 picks a free port)'),
  'metrics-token': z
    .string()
    .min(16, 'must be at least 16 characters')
    .optional()
    .describe('bearer token a scraper must send for /metrics (default: none asked)'),
  'sys-interval': z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(10)
    .describe(
      "seconds between $SYS/broker/… topic updates for system admins, as Mosquitto's sys_interval; 0 disables them",
    ),
  dev: bool.default(false).describe('development mode: embedded everything and a printed admin login'),
})

export type SettingName = keyof typeof settingsSchema.shape
export const settingNames = Object.keys(settingsSchema.shape) as SettingName[]
const secretSettings: SettingName[] = ['secret', 'metrics-token']

export type DatabaseConfig = { provider: 'sqlite'; url: string; file: string } | { provider: 'postgresql'; url: string }

export interface Config {
  port: number
  host: string
  mqttPort: number
  /** served on both listeners when set */
  tls?: TlsFiles
  dataDir: string
  database: DatabaseConfig
  mqtt: {
    maxPacketSize: number
    publishRate: number
    connectionsPerKey: number
    connectTimeoutMs: number
    drainTimeoutMs: number
    maxQueued: number
    retainedPerOrg: number
  }
  messageHistory: { count: number; days: number; trimIntervalMs: number }
  /** how often stale watchdogs are looked for (rhizo's worker: every minute) */
  watchdogIntervalMs: number
  /** ms between max_history trimming passes (core/resources/retention.ts) */
  retentionIntervalMs: number
  /** a controller's value for a missing sequence in its own folder creates it (core/resources/auto-create.ts) */
  autoCreateSequences: boolean
  outgoing: { smtpUrl?: string; emailFrom: string; smsWebhook?: string }
  redis?: string
  /** `tendril serve` processes sharing the ports (cli/workers.ts) */
  workers: number
  brokerId?: string
  blobstore: string
  inlineBytes: number
  /** SQLite's PRAGMA synchronous */
  sqliteSynchronous: 'full' | 'normal'
  /** largest REST upload (and zip download), in bytes */
  uploadLimit: number
  /** largest text sequence value, in bytes */
  textValueLimit: number
  /** value bytes one history read returns at most */
  historyResponseLimit: number
  secret?: string
  bcryptCost: number
  passwordMinLength: number
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  logFormat: 'json' | 'pretty'
  shutdownTimeoutMs: number
  /** /metrics: served (on its own port when port is set), and the bearer token it asks for */
  metrics: { enabled: boolean; port?: number; token?: string }
  /** seconds between $SYS topic updates; 0: none */
  sysIntervalS: number
  /** Express's 'trust proxy': whom to believe about the client's address and scheme */
  trustProxy: TrustProxy
  dev: boolean
}

/** A setting that failed validation; the CLI prints it and exits with status 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

export interface ConfigSources {
  /** only the flags the user actually gave */
  flags?: Partial<Record<SettingName, unknown>>
  env?: NodeJS.ProcessEnv
  /** path of a YAML or JSON config file */
  configFile?: string
  cwd?: string
}

export function envName(setting: SettingName): string {
  return 'TENDRIL_' + setting.toUpperCase().replace(/-/g, '_')
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`)
  }
  let data: unknown
  try {
    data = parseYaml(text) // YAML is a superset of JSON, so one parser reads both
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML/JSON: ${(err as Error).message}`)
  }
  if (data === null || data === undefined) return {}
  if (typeof data !== 'object' || Array.isArray(data))
    throw new ConfigError(`config file ${path} must hold a mapping of settings`)
  for (const key of Object.keys(data)) {
    if (!settingNames.includes(key as SettingName))
      throw new ConfigError(`config file ${path}: unknown setting "${key}"`)
  }
  return data as Record<string, unknown>
}

/** Merges the sources by precedence and remembers where each value came from, for error messages. */
function mergeSources(sources: ConfigSources) {
  const env = sources.env ?? {}
  const file = sources.configFile ? readConfigFile(sources.configFile) : {}
  const raw: Record<string, unknown> = {}
  const origin: Record<string, string> = {}
  for (const name of settingNames) {
    const flag = sources.flags?.[name]
    if (flag !== undefined) {
      raw[name] = flag
      origin[name] = `--${name}`
    } else if (env[envName(name)] !== undefined && env[envName(name)] !== '') {
      raw[name] = env[envName(name)]
      origin[name] = envName(name)
    } else if (file[name] !== undefined) {
      raw[name] = file[name]
      origin[name] = `"${name}" in ${sources.configFile}`
    }
  }
  return { raw, origin }
}

export function parseDatabaseUrl(url: string, cwd: string): DatabaseConfig {
  if (url.startsWith('file:') || url.startsWith('sqlite:')) {
    const path = url.replace(/^(file|sqlite):(\/\/)?/, '')
    if (!path) throw new Error('a SQLite URL needs a file path, e.g. file:./data/tendril.db')
    const file = isAbsolute(path) ? path : resolve(cwd, path)
    return { provider: 'sqlite', url: `file:${file}`, file }
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new Error('not a valid URL')
    }
    if (!parsed.hostname)
      throw new Error('a PostgreSQL URL needs a host, e.g. postgresql://user:pass@localhost:5432/tendril')
    if (parsed.pathname.length <= 1)
      throw new Error('a PostgreSQL URL needs a database name, e.g. postgresql://user:pass@localhost:5432/tendril')
    return { provider: 'postgresql', url }
  }
  throw new Error('must start with file: (SQLite) or postgresql:// (PostgreSQL)')
}

/** Both TLS files or neither, readable and a matching pair: a mistake shows at start, not at the first handshake. */
function tlsFiles(
  cert: string | undefined,
  key: string | undefined,
  origin: Record<string, string>,
  cwd: string,
): { tls?: TlsFiles } {
  if (cert === undefined && key === undefined) return {}
  if (cert === undefined || key === undefined)
    throw new ConfigError(
      `${origin['tls-cert'] ?? origin['tls-key']} needs ${cert === undefined ? '--tls-cert' : '--tls-key'} as well`,
    )
  const tls = { certFile: resolve(cwd, cert), keyFile: resolve(cwd, key) }
  try {
    readTlsFiles(tls)
  } catch (err) {
    throw new ConfigError(`invalid setting ${origin['tls-cert']}: ${(err as Error).message}`)
  }
  return { tls }
}

export type TrustProxy = false | number | string[]

/**
 * --trust-proxy: false, a hop count, or addresses and subnets. Behind a load balancer on another host
 * the default (loopback) would see every client as the balancer: one sign-in limit for all of them.
 */
export function parseTrustProxy(value: string, where = 'trust-proxy'): TrustProxy {
  const v = value.trim().toLowerCase()
  if (v === 'false' || v === 'none') return false
  if (/^\d+$/.test(v)) return Number(v)
  const list = v
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean)
  try {
    proxyAddr.compile(list) // throws on what is no address, subnet or name
  } catch (err) {
    throw new ConfigError(
      `invalid setting ${where}: ${(err as Error).message} (addresses or subnets such as 10.0.0.0/8, loopback, linklocal, uniquelocal; a hop count; or false)`,
    )
  }
  if (list.length === 0) throw new ConfigError(`invalid setting ${where}: no address given`)
  return list
}

export function loadConfig(sources: ConfigSources = {}): Config {
  const cwd = sources.cwd ?? process.cwd()
  const { raw, origin } = mergeSources(sources)
  const result = settingsSchema.safeParse(raw)
  if (!result.success) {
    const issue = result.error.issues[0]!
    const name = String(issue.path[0]) as SettingName
    throw new ConfigError(`invalid setting ${origin[name] ?? name}: ${issue.message}`)
  }
  const s = result.data
  // the workers share subscriptions, sessions and retained messages through Redis only (cli/workers.ts)
  if (s.workers > 1 && !s.redis)
    throw new ConfigError(
      `invalid setting ${origin.workers}: more than one worker needs --redis (the broker state the workers share); without it run one`,
    )
  const dataDir = isAbsolute(s['data-dir']) ? s['data-dir'] : resolve(cwd, s['data-dir'])
  let database: DatabaseConfig
  try {
    database = parseDatabaseUrl(s.db ?? `file:${join(dataDir, 'tendril.db')}`, cwd)
  } catch (err) {
    throw new ConfigError(`invalid setting ${origin.db ?? 'db'}: ${(err as Error).message}`)
  }
  return {
    port: s.port,
    host: s.host,
    mqttPort: s['mqtt-port'],
    ...tlsFiles(s['tls-cert'], s['tls-key'], origin, cwd),
    dataDir,
    database,
    mqtt: {
      maxPacketSize: s['mqtt-max-packet-size'],
      publishRate: s['mqtt-publish-rate'],
      connectionsPerKey: s['mqtt-connections-per-key'],
      connectTimeoutMs: s['mqtt-connect-timeout'],
      drainTimeoutMs: s['mqtt-drain-timeout'],
      maxQueued: s['mqtt-max-queued'],
      retainedPerOrg: s['mqtt-retained-per-org'],
    },
    messageHistory: {
      count: s['message-history-count'],
      days: s['message-history-days'],
      trimIntervalMs: s['message-history-trim-interval'],
    },
    watchdogIntervalMs: s['watchdog-interval'],
    retentionIntervalMs: s['retention-interval'],
    autoCreateSequences: s['auto-create-sequences'],
    outgoing: { smtpUrl: s['smtp-url'], emailFrom: s['email-from'], smsWebhook: s['sms-webhook'] },
    redis: s.redis,
    workers: s.workers,
    brokerId: s['broker-id'],
    blobstore: s.blobstore,
    inlineBytes: s['inline-bytes'],
    sqliteSynchronous: s['sqlite-synchronous'],
    uploadLimit: s['upload-limit'],
    textValueLimit: s['text-value-limit'],
    historyResponseLimit: s['history-response-limit'],
    secret: s.secret,
    bcryptCost: s['bcrypt-cost'],
    passwordMinLength: s['password-min-length'],
    logLevel: s['log-level'],
    logFormat: s['log-format'],
    shutdownTimeoutMs: s['shutdown-timeout'],
    metrics: {
      enabled: s.metrics || s['metrics-port'] !== undefined,
      port: s['metrics-port'],
      token: s['metrics-token'],
    },
    sysIntervalS: s['sys-interval'],
    trustProxy: parseTrustProxy(s['trust-proxy'], origin['trust-proxy'] ?? 'trust-proxy'),
    dev: s.dev,
  }
}

/** Replaces the password of a URL, so it can be shown or logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '*****'
    return parsed.toString()
  } catch {
    return url
  }
}

/** The effective settings for `tendril config`, with secrets redacted. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    port: config.port,
    host: config.host,
    'mqtt-port': config.mqttPort,
    'tls-cert': config.tls?.certFile ?? '(none: plain HTTP and MQTT)',
    'tls-key': config.tls?.keyFile ?? '(none)',
    'data-dir': config.dataDir,
    db: redactUrl(config.database.url),
    'mqtt-max-packet-size': config.mqtt.maxPacketSize,
    'mqtt-publish-rate': config.mqtt.publishRate,
    'mqtt-connections-per-key': config.mqtt.connectionsPerKey,
    'mqtt-connect-timeout': config.mqtt.connectTimeoutMs,
    'mqtt-drain-timeout': config.mqtt.drainTimeoutMs,
    'mqtt-max-queued': config.mqtt.maxQueued,
    'mqtt-retained-per-org': config.mqtt.retainedPerOrg,
    'message-history-count': config.messageHistory.count,
    'message-history-days': config.messageHistory.days,
    'message-history-trim-interval': config.messageHistory.trimIntervalMs,
    'watchdog-interval': config.watchdogIntervalMs,
    'retention-interval': config.retentionIntervalMs,
    'auto-create-sequences': config.autoCreateSequences,
    'smtp-url': config.outgoing.smtpUrl ? redactUrl(config.outgoing.smtpUrl) : '(none: emails are not sent)',
    'email-from': config.outgoing.emailFrom,
    'sms-webhook': config.outgoing.smsWebhook
      ? redactUrl(config.outgoing.smsWebhook)
      : '(none: text messages are not sent)',
    redis: config.redis ? redactUrl(config.redis) : '(none: in-memory broker state)',
    workers: config.workers,
    'broker-id': config.brokerId ?? '(default)',
    blobstore: redactUrl(config.blobstore),
    'inline-bytes': config.inlineBytes,
    'sqlite-synchronous': config.sqliteSynchronous,
    'upload-limit': config.uploadLimit,
    'text-value-limit': config.textValueLimit,
    'history-response-limit': config.historyResponseLimit,
    secret: config.secret ? '*****' : '(generated, kept in the database)',
    'bcrypt-cost': config.bcryptCost,
    'password-min-length': config.passwordMinLength,
    'log-level': config.logLevel,
    'log-format': config.logFormat,
    'trust-proxy': Array.isArray(config.trustProxy) ? config.trustProxy.join(',') : config.trustProxy,
    'shutdown-timeout': config.shutdownTimeoutMs,
    metrics: config.metrics.enabled,
    'metrics-port': config.metrics.port ?? '(none: /metrics on --port)',
    'metrics-token': config.metrics.token ? '*****' : '(none)',
    'sys-interval': config.sysIntervalS,
    dev: config.dev,
  }
}
export { secretSettings }
