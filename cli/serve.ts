// `tendril serve`: open the core, listen, reload the TLS certificate on SIGHUP, and shut down
// cleanly on SIGTERM/SIGINT.
import cluster from 'node:cluster'
import type { Config } from '../core/config.ts'
import { openCore, type Core } from '../core/index.ts'
import { createLogger, type Logger } from '../core/log.ts'
import { announceDevLogin } from './dev-login.ts'
import { createTendril, type Tendril } from '../server.ts'
import { runWorkers, workerSettings } from './workers.ts'

export async function serve(config: Config): Promise<void> {
  if (config.workers > 1 && cluster.isPrimary) return runWorkers(config)
  // a worker ends its channel to the primary, which would keep it alive, when it stops or fails
  if (cluster.isWorker) return serveOne(config).finally(() => cluster.worker?.disconnect())
  return serveOne(config)
}

async function serveOne(given: Config): Promise<void> {
  const started = performance.now()
  const worker = cluster.isWorker ? workerSettings(given) : undefined
  const config = worker?.config ?? given
  const log = worker ? createLogger(config).child({ worker: worker.index }) : createLogger(config)
  const core = await openCore(config, log, { worker: !!worker }).catch((err: unknown) => {
    throw reportFailedStart(log, err) // openCore has released what it opened
  })
  const { server, port, mqttPort, metricsPort } = await startListening(core, !worker, worker?.meshSecret)
  const bound = { port, mqttPort, metricsPort }
  log.info(
    {
      ...bound,
      host: config.host,
      tls: !!config.tls,
      db: config.database.provider,
      startupMs: Math.round(performance.now() - started),
    },
    worker ? 'worker listening' : 'tendril listening',
  )
  if (worker) process.send!({ listening: bound }) // the primary says "tendril listening" once all are
  // a renewed certificate (certbot's deploy hook: systemctl reload tendril) without dropping anyone
  const reloadTls = () => {
    try {
      if (server.reloadTls()) log.info({ cert: config.tls!.certFile }, 'tls certificate reloaded')
    } catch (err) {
      log.error({ err }, 'tls certificate not reloaded; still serving the previous one')
    }
  }
  if (config.tls) process.on('SIGHUP', reloadTls)
  // its default action would end the server (a worker may hear it with its process group; its primary acts on it)
  process.on('SIGUSR2', () => !worker && log.warn('SIGUSR2 ignored: rolling restarts need --workers 2 or more'))
  if (config.dev && !worker) await announceDevLogin(core, port)
  // --dev rebuilds the web UI on every change (esbuild watching web/); a reload shows it
  const webWatch =
    config.dev && !worker
      ? await (await import('../scripts/build-web.mjs')).watchWeb({ info: (m) => log.info(m) })
      : undefined

  await new Promise<void>((resolve) => {
    let stopping = false
    const stop = async (signal: string) => {
      if (stopping) process.exit(1) // a second signal means "now"
      stopping = true
      log.info({ signal }, 'shutting down')
      const deadline = setTimeout(() => {
        // what still holds the event loop (handle types only: no addresses or secrets), to tell a hung drain from a
        // leak
        log.error({ stillOpen: process.getActiveResourcesInfo() }, 'shutdown took too long; exiting')
        process.exit(1)
      }, config.shutdownTimeoutMs + 1000)
      deadline.unref()
      await webWatch?.stop()
      await server.close() // stops the upkeep jobs too
      await core.close()
      log.info('stopped')
      resolve()
    }
    process.once('SIGTERM', () => void stop('SIGTERM'))
    // a worker hears Ctrl-C with its whole process group, and stops when its primary says so
    if (worker) process.on('SIGINT', () => {})
    else process.once('SIGINT', () => void stop('SIGINT'))
  })
}

async function startListening(core: Core, upkeep: boolean, meshSecret?: string) {
  const server = await createTendril(core, { upkeep, meshSecret }).catch((err: unknown) => giveUp(core, undefined, err))
  const bound = await server
    // --mqtt-port 0 turns MQTT over TCP off: a port nobody knows in advance would serve no device
    .listen({ port: core.config.port, host: core.config.host, mqttPort: core.config.mqttPort || null })
    .catch((err: unknown) => giveUp(core, server, err))
  return { server, ...bound }
}

/** A start that failed releases what it opened and exits non-zero, so a service manager sees the failure. */
async function giveUp(core: Core, server: Tendril | undefined, err: unknown): Promise<never> {
  reportFailedStart(core.log, err)
  // whatever still holds the event loop after the release must not keep a failed server alive
  setTimeout(() => {
    core.log.error({ stillOpen: process.getActiveResourcesInfo() }, 'releasing a failed start took too long; exiting')
    process.exit(1)
  }, core.config.shutdownTimeoutMs + 1000).unref()
  await server?.close()
  await core.close()
  throw err
}

function reportFailedStart(log: Logger, err: unknown): unknown {
  log.error({ reason: (err as Error)?.message ?? String(err) }, 'tendril did not start')
  return err
}
