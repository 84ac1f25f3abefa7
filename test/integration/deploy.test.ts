// The deployment files in deploy/: the systemd unit passes systemd's own checks, and the compose
// file's scaled-out shape is the one docs/operations.md describes ("Several instances"), with
// settings Tendril accepts, behind a balancer configuration HAProxy accepts.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { describe, test } from 'node:test'
import { parse as parseYaml } from 'yaml'
import { envName, loadConfig, settingNames } from '../../core/config.ts'
import { parseS3Url } from '../../core/blobs/s3.ts'
import { SERVER_NODE_FLAGS } from '../../cli/node-flags.ts'

const run = promisify(execFile)
const deploy = (name: string) => new URL(`../../deploy/${name}`, import.meta.url)
const unitPath = deploy('tendril.service').pathname
const unit = readFileSync(unitPath, 'utf8')
const settingVariables = new Set(settingNames.map(envName))

/** The values of a key in the unit, in order. */
const unitValues = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!)

describe('the systemd unit (deploy/tendril.service)', () => {
  test('systemd-analyze verify finds nothing to say about it', async () => {
    // warnings (an unknown key, a bad value) go to stderr with exit status 0; a missing program fails it
    const { stdout, stderr } = await run('systemd-analyze', ['verify', unitPath])
    assert.equal((stdout + stderr).trim(), '')
  })

  test('it restarts on failure, uses no socket, and its hardening rates OK in systemd-analyze security', async () => {
    assert.deepEqual(unitValues('Restart'), ['on-failure'])
    assert.doesNotMatch(unit, /^(Sockets|ListenStream)=/m)
    const { stdout } = await run('systemd-analyze', ['security', '--offline=yes', unitPath])
    const exposure = Number(/Overall exposure level for tendril\.service: ([\d.]+)/.exec(stdout)?.[1])
    assert.ok(exposure <= 2, `exposure ${exposure} (0 best, 10 worst; 2 or less is "OK")`)
  })

  test('it starts node with the server flags, and sets only settings that exist', () => {
    const [execStart] = unitValues('ExecStart')
    for (const flag of SERVER_NODE_FLAGS) assert.ok(execStart!.includes(flag), flag)
    const variables = unitValues('Environment')
      .flatMap((line) => line.split(/\s+/))
      .map((pair) => pair.split('=')[0]!)
    for (const name of variables.filter((v) => v.startsWith('TENDRIL_'))) assert.ok(settingVariables.has(name), name)
  })
})

describe('the scaled-out compose file (deploy/compose.yaml)', () => {
  const compose = parseYaml(readFileSync(deploy('compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<
      string,
      {
        environment?: Record<string, string>
        image?: string
        ports?: string[]
        networks?: { default?: { ipv4_address?: string } }
      }
    >
  }
  const services = compose.services
  /** compose's ${VAR:?message} with a value, as `docker compose` would fill it in from .env */
  const filled = (env: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(env).map(([k, v]) => [
        k,
        String(v).replace(/\$\{(\w+)(:[?-][^}]*)?\}/g, (_, name: string) => `${name.toLowerCase()}-value`),
      ]),
    )
  const tendrils = ['tendril-1', 'tendril-2'].map((name) => ({ name, env: filled(services[name]!.environment!) }))

  test('it runs two Tendrils, PostgreSQL, Redis, an S3 store and a load balancer, nothing else', () => {
    assert.deepEqual(Object.keys(services).sort(), [
      'balancer',
      'minio',
      'minio-bucket',
      'postgres',
      'redis',
      'tendril-1',
      'tendril-2',
    ])
    assert.match(services.postgres!.image!, /^postgres:/)
    assert.match(services.redis!.image!, /^redis:/)
    assert.match(services.minio!.image!, /^minio\/minio/)
    assert.match(services.balancer!.image!, /^haproxy:/)
  })

  test('both instances share the database, Redis and the blob store, each with a broker id of its own, with settings Tendril accepts', () => {
    const configs = tendrils.map(({ env }) => {
      for (const name of Object.keys(env).filter((k) => k.startsWith('TENDRIL_')))
        assert.ok(settingVariables.has(name), name)
      return loadConfig({ env, cwd: '/app' })
    })
    const [a, b] = configs as [ReturnType<typeof loadConfig>, ReturnType<typeof loadConfig>]
    assert.equal(a.database.provider, 'postgresql')
    assert.equal(a.database.url, b.database.url)
    assert.match(a.redis!, /^redis:\/\//)
    assert.equal(a.redis, b.redis)
    assert.equal(a.blobstore, b.blobstore)
    assert.equal(parseS3Url(a.blobstore).forcePathStyle, true)
    assert.ok(
      tendrils.every(({ env }) => env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY),
      'S3 credentials in the AWS variables',
    )
    assert.notEqual(a.brokerId, undefined)
    assert.notEqual(a.brokerId, b.brokerId)
    // the balancer, and only it, speaks for the clients
    assert.deepEqual(a.trustProxy, [services.balancer!.networks!.default!.ipv4_address])
  })

  test('the load balancer passes HTTP and MQTT to both instances', () => {
    const haproxy = readFileSync(deploy('haproxy.cfg'), 'utf8')
    assert.deepEqual(services.balancer!.ports, ['8080:8080', '1883:1883'])
    for (const { name } of tendrils) {
      assert.match(haproxy, new RegExp(`server ${name} ${name}:8080 check`))
      assert.match(haproxy, new RegExp(`server ${name} ${name}:1883 check`))
    }
  })

  test('haproxy -c finds the balancer configuration valid (the instances resolve only inside compose)', async () => {
    const { stderr } = await run('haproxy', ['-c', '-f', deploy('haproxy.cfg').pathname])
    const warnings = stderr.split('\n').filter((line) => line.includes('[WARNING]'))
    assert.deepEqual(
      warnings.filter((line) => !/could not resolve address 'tendril-[12]'/.test(line)),
      [],
    )
  })
})
