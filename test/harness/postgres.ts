import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { freePort } from './ports.js'

export interface PostgresServer {
  /** postgresql://postgres@127.0.0.1:PORT/postgres (superuser, trust auth) */
  url: string
  port: number
  /** postmaster PID */
  pid: number
  /** server_version, e.g. "15.18 (Debian 15.18-0+deb12u1)" */
  version: string
  /** Creates a fresh, uniquely named database and returns its URL. */
  createDatabase(): Promise<string>
  /**
   * Stops the server ("fast" shutdown: open connections are ended) but keeps its data dir, to be
   * started again by resume() on the same port (fault tests: a database restart under load).
   */
  halt(): Promise<void>
  /** Starts a halted server again on the same port and data dir; resolves once it accepts connections. */
  resume(): Promise<void>
  stop(): Promise<void>
}

interface Launched extends PostgresServer {
  /** Synchronous last-resort cleanup for process 'exit', where no async work can run. */
  killNow(): void
}

type Owner = { uid: number; gid: number } | undefined

const execFileP = promisify(execFile)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function pgBinDir(): string {
  const fromEnv = process.env.TENDRIL_PG_BIN
  let dirs: string[] = fromEnv ? [fromEnv] : []
  if (!fromEnv) {
    let versions: string[] = []
    try {
      versions = fs.readdirSync('/usr/lib/postgresql')
    } catch {
      // not installed: reported below
    }
    dirs = versions
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => parseFloat(b) - parseFloat(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`)
  }
  const dir = dirs.find((d) => ['initdb', 'postgres'].every((b) => fs.existsSync(path.join(d, b))))
  if (!dir) {
    throw new Error(
      `PostgreSQL server binaries (initdb, postgres) not found in ${fromEnv ?? '/usr/lib/postgresql/*/bin'}. ` +
        "Install Debian's `postgresql` package (apt-get install postgresql) or set TENDRIL_PG_BIN to its bin directory.",
    )
  }
  return dir
}

/** initdb/postgres refuse to run as root, so when root we run them as `postgres` (or `nobody`). */
function unprivilegedOwner(): Owner {
  if (process.getuid?.() !== 0) return undefined
  const passwd = fs.readFileSync('/etc/passwd', 'utf8').split('\n')
  for (const name of ['postgres', 'nobody']) {
    const f = passwd.find((l) => l.startsWith(`${name}:`))?.split(':')
    if (f) return { uid: Number(f[2]), gid: Number(f[3]) }
  }
  throw new Error('Running as root, but neither a `postgres` nor a `nobody` user exists to run PostgreSQL as.')
}

let dbSeq = 0

async function createDatabaseOn(adminUrl: string): Promise<string> {
  // pid + counter + random: unique across the test processes sharing one server.
  const name = `tendril_test_${process.pid}_${++dbSeq}_${randomBytes(3).toString('hex')}`
  const client = new pg.Client({ connectionString: adminUrl })
  client.on('error', () => {})
  await client.connect()
  try {
    await client.query(`CREATE DATABASE "${name}"`)
  } finally {
    await client.end()
  }
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

async function waitReady(url: string, child: ChildProcess, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}) before accepting connections`)
    }
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
    client.on('error', () => {})
    try {
      await client.connect()
      const res = await client.query<{ server_version: string }>('SHOW server_version')
      return res.rows[0]?.server_version ?? 'unknown'
    } catch (err) {
      if (Date.now() > deadline) throw err
    } finally {
      await client.end().catch(() => {})
    }
    await sleep(50)
  }
}

/** Signals the process and waits for it to exit, escalating to SIGKILL after graceMs. */
async function terminate(child: ChildProcess, signal: NodeJS.Signals, graceMs = 10_000): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  child.ref() // the child is unref'd; keep the loop alive while we wait for it
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** In 'exit' handlers the loop is gone: our dead child is an unreaped zombie, so ask /proc instead of kill(pid, 0). */
function aliveSync(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

function killNowSync(pid: number, signal: NodeJS.Signals, dir: string): void {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
  const until = Date.now() + 3000
  const cell = new Int32Array(new SharedArrayBuffer(4))
  while (aliveSync(pid) && Date.now() < until) Atomics.wait(cell, 0, 0, 20)
  fs.rmSync(dir, { recursive: true, force: true })
}

/** `postgres` on `port` over the data dir, unref'd, its output appended to logPath. */
function spawnPostgres(
  bin: string,
  data: string,
  dir: string,
  port: number,
  logPath: string,
  owner: Owner,
): ChildProcess {
  // cwd=dir: as another user, postgres cannot getcwd() inside e.g. /root.
  const common = { cwd: dir, env: { ...process.env, LC_ALL: 'C' }, ...owner }
  const logFd = fs.openSync(logPath, 'a')
  // fsync & co. off: throwaway data, start-up and DDL get much faster.
  const child = spawn(
    path.join(bin, 'postgres'),
    [
      '-D',
      data,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `port=${port}`,
      '-c',
      `unix_socket_directories=${dir}`,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
    ],
    { ...common, stdio: ['ignore', logFd, logFd] },
  )
  fs.closeSync(logFd)
  child.on('error', () => {}) // spawn failures surface as pid === undefined / exit below
  child.unref() // a running server must not keep the test process alive
  return child
}

async function launchPostgres(): Promise<Launched> {
  const bin = pgBinDir()
  const owner = unprivilegedOwner()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tendril-pg-'))
  try {
    if (owner) fs.chownSync(dir, owner.uid, owner.gid)
    const data = path.join(dir, 'data')
    // cwd=dir: as another user, postgres cannot getcwd() inside e.g. /root.
    const common = { cwd: dir, env: { ...process.env, LC_ALL: 'C' }, ...owner }
    await execFileP(
      path.join(bin, 'initdb'),
      ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      common,
    ).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`initdb failed: ${err.stderr || err.message}`)
    })
    fs.writeFileSync(path.join(data, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\n')
    const logPath = path.join(dir, 'postgres.log')

    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      let child = spawnPostgres(bin, data, dir, port, logPath, owner)
      const url = `postgresql://postgres@127.0.0.1:${port}/postgres`
      try {
        if (child.pid === undefined) throw new Error('could not spawn postgres')
        const version = await waitReady(url, child)
        let stopping: Promise<void> | undefined
        return {
          url,
          port,
          get pid() {
            return child.pid!
          },
          version,
          createDatabase: () => createDatabaseOn(url),
          halt: () => terminate(child, 'SIGINT'),
          async resume() {
            if (child.exitCode === null && child.signalCode === null) return
            child = spawnPostgres(bin, data, dir, port, logPath, owner)
            await waitReady(url, child)
          },
          // SIGINT = "fast" shutdown, same as pg_ctl stop -m fast.
          stop: () =>
            (stopping ??= terminate(child, 'SIGINT').then(() => fs.rmSync(dir, { recursive: true, force: true }))),
          // Only signal a child Node has not reaped yet: a reaped PID may already belong to someone else.
          killNow: () =>
            child.exitCode === null && child.signalCode === null ? killNowSync(child.pid!, 'SIGQUIT', dir) : undefined,
        }
      } catch (err) {
        await terminate(child, 'SIGKILL')
        const log = fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : ''
        if (attempt < 5 && /already in use/i.test(log)) continue // lost the free-port race
        throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log.slice(-2000)}`, { cause: err })
      }
    }
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw err
  }
}

export async function startPostgres(): Promise<PostgresServer> {
  return launchPostgres()
}

let privateServer: Promise<Launched> | undefined

/**
 * A server for the whole process: the one named by TENDRIL_TEST_PG_URL (started once per test run by
 * scripts/run-tests.mjs), else a private one started on first use. Test files cannot share an `after`
 * hook, so the private server is stopped on 'beforeExit' (event loop drained; async work allowed),
 * with a synchronous SIGQUIT on 'exit' for process.exit()/uncaught errors, where 'beforeExit' is skipped.
 */
export async function sharedPostgres(): Promise<{ createDatabase(): Promise<string> }> {
  const external = process.env.TENDRIL_TEST_PG_URL
  if (external) return { createDatabase: () => createDatabaseOn(external) }
  privateServer ??= launchPostgres().then((s) => {
    process.once('beforeExit', () => void s.stop())
    process.once('exit', () => s.killNow())
    return s
  })
  const server = await privateServer
  return { createDatabase: () => server.createDatabase() }
}
