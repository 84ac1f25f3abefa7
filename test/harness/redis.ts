import { execFile, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { freePort } from './ports.js'

export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  url: string
  port: number
  pid: number
  /** e.g. "7.0.15" */
  version: string
  /**
   * Stops the server, keeping its data (SHUTDOWN SAVE: a snapshot in its dir, as an append-only Redis would keep
   * it), to be started again by resume() on the same port (fault tests: a Redis restart under load).
   */
  halt(): Promise<void>
  /** Starts a halted server again on the same port and dir, with its data; resolves once it answers PING. */
  resume(): Promise<void>
  stop(): Promise<void>
}

interface Launched extends RedisServer {
  /** Synchronous last-resort cleanup for process 'exit'. */
  killNow(): void
}

const execFileP = promisify(execFile)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function redisBin(): string {
  const fromEnv = process.env.TENDRIL_REDIS_SERVER
  const candidates = fromEnv
    ? [fromEnv]
    : [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/bin', '/usr/local/bin'].map((d) =>
        path.join(d, 'redis-server'),
      )
  const found = candidates.find((p) => {
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return fs.statSync(p).isFile()
    } catch {
      return false
    }
  })
  if (!found) {
    throw new Error(
      `redis-server not found (${fromEnv ?? 'searched PATH'}). ` +
        "Install Debian's `redis-server` package (apt-get install redis-server) or set TENDRIL_REDIS_SERVER.",
    )
  }
  return found
}

/** Inline-protocol PING; resolves true on "+PONG" (not on -LOADING etc.). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' })
    let buf = ''
    const done = (ok: boolean) => {
      sock.destroy()
      resolve(ok)
    }
    sock.setTimeout(1000, () => done(false))
    sock.on('error', () => done(false))
    sock.on('connect', () => sock.write('PING\r\n'))
    sock.on('data', (d) => {
      buf += d.toString()
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'))
    })
  })
}

async function waitReady(port: number, child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode}) before answering PING`)
    }
    if (await ping(port)) return
    if (Date.now() > deadline) throw new Error('redis-server did not answer PING in time')
    await sleep(20)
  }
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals, graceMs = 5_000): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  child.ref() // the child is unref'd; keep the loop alive while we wait for it
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** `redis-server` on `port` without persistence of its own (dump.rdb in dir is loaded if there), unref'd. */
function spawnRedis(bin: string, port: number, dir: string, logPath: string): ChildProcess {
  const logFd = fs.openSync(logPath, 'a')
  const child = spawn(
    bin,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
    ],
    { cwd: dir, stdio: ['ignore', logFd, logFd] },
  )
  fs.closeSync(logFd)
  child.on('error', () => {}) // spawn failures surface as pid === undefined / exit below
  child.unref() // a running server must not keep the test process alive
  return child
}

/** SHUTDOWN SAVE, then waits for the exit (SIGKILL after 5 s). */
async function shutdownSaving(child: ChildProcess, port: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.ref()
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const sock = net.connect({ port, host: '127.0.0.1' })
  sock.on('error', () => {})
  sock.on('connect', () => sock.end('SHUTDOWN SAVE\r\n'))
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
  sock.destroy()
}

async function launchRedis(): Promise<Launched> {
  const bin = redisBin()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tendril-redis-'))
  try {
    const versionP = execFileP(bin, ['--version']).then(
      ({ stdout }) => /v=(\S+)/.exec(stdout)?.[1] ?? 'unknown',
      () => 'unknown',
    )
    const logPath = path.join(dir, 'redis.log')
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      let child = spawnRedis(bin, port, dir, logPath)
      try {
        if (child.pid === undefined) throw new Error('could not spawn redis-server')
        await waitReady(port, child)
        let stopping: Promise<void> | undefined
        return {
          url: `redis://127.0.0.1:${port}`,
          port,
          get pid() {
            return child.pid!
          },
          version: await versionP,
          halt: () => shutdownSaving(child, port),
          async resume() {
            if (child.exitCode === null && child.signalCode === null) return
            child = spawnRedis(bin, port, dir, logPath)
            await waitReady(port, child)
          },
          stop: () =>
            (stopping ??= terminate(child, 'SIGTERM').then(() => fs.rmSync(dir, { recursive: true, force: true }))),
          killNow: () => {
            // Nothing to flush (no persistence), so SIGKILL; skip if Node already reaped it (PID may be reused).
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
            fs.rmSync(dir, { recursive: true, force: true })
          },
        }
      } catch (err) {
        await terminate(child, 'SIGKILL')
        const log = fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : ''
        if (attempt < 5 && /already in use/i.test(log)) continue // lost the free-port race
        throw new Error(`redis-server did not start: ${(err as Error).message}\n${log.slice(-2000)}`, { cause: err })
      }
    }
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw err
  }
}

export async function startRedis(): Promise<RedisServer> {
  return launchRedis()
}

let privateServer: Promise<Launched> | undefined

/**
 * The run-wide server from TENDRIL_TEST_REDIS_URL (set by scripts/run-tests.mjs), else a private one
 * started on first use and stopped on 'beforeExit' / killed on 'exit' (no `after` hook spans test files).
 */
export async function sharedRedis(): Promise<{ url: string }> {
  const external = process.env.TENDRIL_TEST_REDIS_URL
  if (external) return { url: external }
  privateServer ??= launchRedis().then((s) => {
    process.once('beforeExit', () => void s.stop())
    process.once('exit', () => s.killNow())
    return s
  })
  return { url: (await privateServer).url }
}
