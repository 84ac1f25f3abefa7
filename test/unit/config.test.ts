// Settings: precedence, validation with the setting named, and redaction.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ConfigError, describeConfig, loadConfig, settingNames } from '../../core/config.ts'

const dir = mkdtempSync(join(tmpdir(), 'tendril-config-'))
function file(name: string, text: string) {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

describe('configuration', () => {
  test('defaults give an embedded SQLite database under ./data', () => {
    const config = loadConfig({ env: {}, cwd: '/srv/app' })
    assert.equal(config.port, 8080)
    assert.equal(config.dataDir, '/srv/app/data')
    assert.deepEqual(config.database, {
      provider: 'sqlite',
      url: 'file:/srv/app/data/tendril.db',
      file: '/srv/app/data/tendril.db',
    })
    assert.equal(config.bcryptCost, 12)
    assert.equal(config.uploadLimit, 64 * 1024 * 1024, 'uploads up to 64 MiB')
    assert.equal(config.retentionIntervalMs, 60_000, 'max_history trimmed every minute')
  })

  test('a flag beats the environment, which beats the file, which beats the default', () => {
    const configFile = file('all.yaml', 'port: 7000\nhost: 127.0.0.2\nlog-level: debug\n')
    const env = { TENDRIL_PORT: '7100', TENDRIL_HOST: '127.0.0.3' }
    const config = loadConfig({ flags: { port: '7200' }, env, configFile })
    assert.equal(config.port, 7200)
    assert.equal(config.host, '127.0.0.3')
    assert.equal(config.logLevel, 'debug')
    assert.equal(config.logFormat, 'json')
  })

  test('JSON config files are read too', () => {
    const config = loadConfig({
      env: {},
      configFile: file('c.json', '{"db": "postgresql://u:p@db.local:5432/tendril", "bcrypt-cost": 10}'),
    })
    assert.equal(config.database.provider, 'postgresql')
    assert.equal(config.bcryptCost, 10)
  })

  test('a bad port is refused, naming the setting and where it came from', () => {
    assert.throws(
      () => loadConfig({ flags: { port: '70000' }, env: {} }),
      (e: Error) => e instanceof ConfigError && /--port/.test(e.message),
    )
    assert.throws(() => loadConfig({ env: { TENDRIL_PORT: 'eighty' } }), /TENDRIL_PORT/)
  })

  test('--trust-proxy takes addresses, subnets, names, a hop count or false; anything else is refused, naming the setting', () => {
    const trust = (v: string) => loadConfig({ flags: { 'trust-proxy': v }, env: {} }).trustProxy
    assert.deepEqual(loadConfig({ env: {} }).trustProxy, ['loopback'])
    assert.deepEqual(trust('10.0.0.0/8, 192.168.1.7,loopback'), ['10.0.0.0/8', '192.168.1.7', 'loopback'])
    assert.equal(trust('2'), 2)
    assert.equal(trust('false'), false)
    // "true" would believe any client about its own address, and so about the sign-in limit
    for (const bad of ['300.1.1.1', 'true', 'proxy.example.com', '10.0.0.0/40', ',']) {
      assert.throws(
        () => trust(bad),
        (e: Error) => e instanceof ConfigError && /--trust-proxy/.test(e.message),
        bad,
      )
    }
  })

  test('a malformed database URL is refused with what would be right', () => {
    assert.throws(
      () => loadConfig({ flags: { db: 'mysql://x/y' }, env: {} }),
      /--db: must start with file: .* or postgresql:\/\//,
    )
    assert.throws(() => loadConfig({ env: { TENDRIL_DB: 'postgresql://host-only' } }), /TENDRIL_DB: .*database name/)
  })

  test('unknown settings in a config file are refused rather than ignored', () => {
    assert.throws(() => loadConfig({ env: {}, configFile: file('typo.yaml', 'prot: 80\n') }), /unknown setting "prot"/)
  })

  test('an unreadable or malformed config file is a clear error', () => {
    assert.throws(() => loadConfig({ env: {}, configFile: join(dir, 'missing.yaml') }), /cannot read config file/)
    assert.throws(() => loadConfig({ env: {}, configFile: file('bad.yaml', 'port: [1,\n') }), /not valid YAML/)
  })

  test('`tendril config` shows every setting there is', () => {
    const shown = Object.keys(describeConfig(loadConfig({ env: {} }))).sort()
    assert.deepEqual(shown, [...settingNames].sort())
  })

  test('describeConfig redacts the database password and the secret', () => {
    const config = loadConfig({
      flags: {
        db: 'postgresql://tendril:hunter22@db:5432/t',
        secret: 's'.repeat(40),
        'smtp-url': 'smtp://mailer:mailpass9@mail:587',
        redis: 'redis://:redispass7@cache:6379',
      },
      env: {},
    })
    const text = JSON.stringify(describeConfig(config))
    assert.doesNotMatch(text, /hunter22|mailpass9|redispass7/)
    assert.doesNotMatch(text, /s{40}/)
    assert.match(text, /postgresql:\/\/tendril:\*{5}@db:5432\/t/)
  })

  test("docs/operations.md's settings table lists every setting, and no setting that does not exist", () => {
    const readme = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8')
    const table = readme.slice(
      readme.indexOf('| flag | default | meaning |'),
      readme.indexOf('Notes on some settings:'),
    )
    const documented = [...table.matchAll(/^\| `--([a-z-]+)` \|/gm)].map((m) => m[1])
    assert.deepEqual([...documented].sort(), [...settingNames].sort())
  })
})
