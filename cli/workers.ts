// `tendril serve --workers N`: a primary process and N workers (node:cluster) that share the ports,
// each a whole Tendril instance on the same Redis (broker/cluster.ts), so they behave as one server;
// they relay messages to each other over loopback sockets, not through Redis (broker/mesh/).
// The primary serves nothing: it migrates the database, runs the SQLite checkpointer and the upkeep
// jobs once for the machine, restarts a worker that dies, and stops them all on SIGTERM/SIGINT.
import cluster, { type Worker } from 'node:cluster'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import type { Config } from '../core/config.ts'
import { openCore } from '../core/index.ts'
import { createLogger, type Logger } from '../core/log.ts'
import { brokerName } from '../broker/cluster.ts'
import { newMeshSecret } from '../broker/mesh/emitter.ts'
import { answerMetricsRequests } from '../http/cluster-metrics.ts'
import { startUpkeep, type Listening } from '../server.ts'
import { announceDevLogin } from './dev-login.ts'
import { workerNodeFlags } from './node-flags.ts'

const INDEX_VARIABLE = 'TENDRIL_WORKER_INDEX'
const MESH_SECRET_VARIABLE = 'TENDRIL_MESH_SECRET'
/** a worker that dies sooner than this after its start is restarted after a pause, not at once */
const QUICK_DEATH_MS = 5000

/** Where the primary notes its pid, for `tendril restart`. */
const pidFile = (config: Config) => join(config.dataDir, 'tendril.pid')

/** `tendril restart`: asks the running primary of this data dir for a rolling restart. */
export function requestRestart(config: Config): string {
  let pid: number
  try {
    pid = Number(readFileSync(pidFile(config), 'utf8').trim())
  } catch {
    throw new Error(`no tendril serve --workers runs on ${config.dataDir} (no ${pidFile(config)})`)
  }
  if (!isTendrilServe(pid))
    throw new Error(
      `no tendril serve --workers runs on ${config.dataDir} (process ${pid} is gone or is another program)`,
    )
  process.kill(pid, 'SIGUSR2')
  return `rolling restart requested from process ${pid}; its log says when it is done`
}

/**
 * Whether `pid` is a running `tendril serve`: a pid file left by a primary that was killed may name a
 * process that took the number since, which SIGUSR2 would kill. Where /proc is missing, running is enough.
 */
function isTendrilServe(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  let commandLine: string
  try {
    commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
  } catch {
    return !existsSync('/proc/self')
  }
  const words = commandLine.split('\0')
  return words.some((word) => /tendril(\.js)?$/.test(word)) && words.includes('serve')
}

/**
 * In a worker: its number, the settings it runs with (its own broker name among the workers), and the
 * secret by which the workers know each other's relay sockets (broker/mesh/emitter.ts).
 */
export function workerSettings(config: Config): { index: number; config: Config; meshSecret?: string } {
  const index = Number(process.env[INDEX_VARIABLE] ?? cluster.worker?.id ?? 1)
  const meshSecret = process.env[MESH_SECRET_VARIABLE]
  delete process.env[MESH_SECRET_VARIABLE] // not for processes a worker may start
  return { index, config: { ...config, brokerId: `${brokerName(config)}.w${index}` }, meshSecret }
}

export async function runWorkers(config: Config): Promise<void> {
  const log = createLogger(config).child({ role: 'primary' })
  const core = await openCore(config, log).catch((err: unknown) => {
    log.error({ reason: (err as Error)?.message ?? String(err) }, 'tendril did not start')
    throw err
  })
  const stopUpkeep = startUpkeep(core)
  const meshSecret = newMeshSecret()
  answerMetricsRequests()
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...workerNodeFlags(config.workers, availableParallelism())] })
  const workers = new Map<number, Worker>()
  const retiring = new Set<Worker>() // replaced by a rolling restart: their exit is expected
  let stopping = false
  const stopAll = async () => {
    stopping = true
    rmSync(pidFile(config), { force: true })
    await stopWorkers([...workers.values()], config.shutdownTimeoutMs + 2000, log)
    await stopUpkeep()
    await core.close()
  }
  try {
    const bound = await Promise.all(Array.from({ length: config.workers }, (_, i) => startWorker(i + 1)))
    log.info(
      { ...bound[0], workers: config.workers, host: config.host, tls: !!config.tls, db: config.database.provider },
      'tendril listening',
    )
    writeFileSync(pidFile(config), `${process.pid}\n`)
    if (config.dev) await announceDevLogin(core, bound[0]!.port)
  } catch (err) {
    log.error({ reason: (err as Error).message }, 'tendril did not start')
    await stopAll()
    throw err
  }
  let restarting = false
  process.on('SIGUSR2', () => {
    if (restarting || stopping) return
    restarting = true
    void rollingRestart().finally(() => (restarting = false))
  })
  await untilStopSignal(log, workers, stopAll, !!config.tls)

  /**
   * SIGUSR2: each worker in turn is replaced by a new process (which loads the code anew); the old one
   * stops once the new one listens, finishing its HTTP requests and closing its MQTT clients, which
   * reconnect to the others and resume their sessions there.
   */
  async function rollingRestart(): Promise<void> {
    log.info({ workers: workers.size }, 'rolling restart')
    for (const [index, old] of [...workers]) {
      if (stopping) return
      retiring.add(old)
      try {
        await startWorker(index)
      } catch (err) {
        retiring.delete(old)
        workers.set(index, old)
        log.error(
          { worker: index, reason: (err as Error).message },
          'rolling restart stopped: a new worker did not start',
        )
        return
      }
      await stopWorkers([old], config.shutdownTimeoutMs + 2000, log)
    }
    log.info('rolling restart done')
  }

  /** Forks worker `index`; resolves once it listens, rejects if it dies first. */
  function startWorker(index: number): Promise<Listening> {
    const worker = cluster.fork({ [INDEX_VARIABLE]: String(index), [MESH_SECRET_VARIABLE]: meshSecret })
    const startedAt = Date.now()
    workers.set(index, worker)
    return new Promise((resolve, reject) => {
      let listening = false
      worker.on('message', (message: { listening?: Listening }) => {
        if (!message.listening) return
        listening = true
        resolve(message.listening)
      })
      worker.once('exit', (code, signal) => {
        if (workers.get(index) === worker) workers.delete(index)
        if (!listening) reject(new Error(`worker ${index} exited (${signal ?? code}) before listening`))
        if (stopping || !listening || retiring.delete(worker)) return
        const lived = Date.now() - startedAt
        log.error(
          { worker: index, pid: worker.process.pid, code, signal },
          'worker stopped unexpectedly; starting another',
        )
        setTimeout(
          () =>
            !stopping &&
            startWorker(index).catch((err: Error) =>
              log.error({ worker: index, reason: err.message }, 'the replacement worker did not start'),
            ),
          lived < QUICK_DEATH_MS ? 1000 : 0,
        ).unref()
      })
    })
  }
}

/** SIGTERM or SIGINT stops every worker, then the primary; SIGHUP is passed on (TLS reload). */
function untilStopSignal(
  log: Logger,
  workers: Map<number, Worker>,
  stopAll: () => Promise<void>,
  tls: boolean,
): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) process.exit(1) // a second signal means "now"
      stopping = true
      log.info({ signal }, 'shutting down')
      void stopAll().then(() => {
        log.info('stopped')
        resolve()
      })
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
    if (tls) process.on('SIGHUP', () => workers.forEach((w) => w.process.kill('SIGHUP')))
  })
}

/** SIGTERM to each worker (each drains as a lone server does); SIGKILL to any still running at the deadline. */
async function stopWorkers(workers: Worker[], deadlineMs: number, log: Logger): Promise<void> {
  const exits = workers
    .filter((w) => w.process.exitCode === null && w.process.signalCode === null)
    .map(
      (w) =>
        new Promise<void>((resolve) => {
          w.once('exit', () => resolve())
          w.process.kill('SIGTERM')
        }),
    )
  const timer = setTimeout(() => {
    log.error('workers took too long to stop; killing them')
    for (const w of workers) if (w.process.exitCode === null) w.process.kill('SIGKILL')
  }, deadlineMs)
  await Promise.all(exits)
  clearTimeout(timer)
}
