// One Tendril instance: the HTTP server (REST, /mqtt and rhizo's WebSocket) and the MQTT broker over
// one core. Built without listening, so `tendril serve` and the tests start it the same way.
import type { Core } from './core/index.ts'
import { createBroker } from './broker/index.ts'
import { brokerName, createClusterParts } from './broker/cluster.ts'
import { createHttpServer } from './http/server.ts'
import { drainThumbnails } from './core/images/queue.ts'
import { startJobs } from './core/jobs.ts'
import { startRetentionJob } from './core/resources/retention.ts'
import { readTlsFiles } from './core/tls.ts'
import { createMetricsServer } from './http/metrics.ts'

export interface Listening {
  port: number
  /** null when MQTT over TCP is disabled (--mqtt-port 0) */
  mqttPort: number | null
  /** the port of /metrics when it has one of its own (--metrics-port) */
  metricsPort?: number
}

export interface Tendril {
  /** port 0 binds a port the kernel picks; mqttPort null serves no MQTT over TCP */
  listen(options: { port: number; host: string; mqttPort: number | null }): Promise<Listening>
  close(): Promise<void>
  /**
   * reads --tls-cert/--tls-key again and serves them to new connections; false without TLS (throws on unusable files,
   * keeping the old ones)
   */
  reloadTls(): boolean
}

/**
 * The upkeep every serving instance runs (watchdog notices, message history, max_history): each is
 * safe on several instances at once. Returns a function that stops it, waiting for runs in progress.
 */
export function startUpkeep(core: Core): () => Promise<void> {
  const stops = [startJobs(core), startRetentionJob(core, core.blobs, core.config.retentionIntervalMs)]
  return async () => void (await Promise.all(stops.map((stop) => stop())))
}

/**
 * `upkeep: false`: a worker of `tendril serve --workers`, whose primary runs the upkeep once for all;
 * `meshSecret`: what the workers of one primary share to relay messages to each other over sockets.
 */
export async function createTendril(
  core: Core,
  { upkeep = true, meshSecret }: { upkeep?: boolean; meshSecret?: string } = {},
): Promise<Tendril> {
  // with --redis, broker state is shared with the other instances on the same Redis
  const cluster = core.config.redis
    ? await createClusterParts(core.config.redis, brokerName(core.config), core.log, meshSecret)
    : undefined
  const broker = await createBroker(
    core,
    cluster && {
      persistence: cluster.persistence,
      mq: cluster.mq,
      id: cluster.id,
      queueLengths: cluster.queueLengths,
      presence: cluster.presence,
      storedIds: cluster.storedIds,
      keySessions: cluster.keySessions,
      retainedTopics: cluster.retainedTopics,
    },
  ).catch(async (err: unknown) => {
    await cluster?.close()
    throw err
  })
  const http = createHttpServer(core, { bus: broker.bus, throttles: cluster?.throttles }, [broker.handleUpgrade])
  // every series says which instance it came from (Prometheus' own `instance` label is the scrape address)
  core.metrics.registry.setDefaultLabels({ broker_id: brokerName(core.config) })
  const metricsServer = core.config.metrics.port === undefined ? undefined : createMetricsServer(core)
  if (core.config.metrics.enabled && !metricsServer && !core.config.metrics.token)
    core.log.warn('/metrics is served to anyone who reaches --port: set --metrics-token, or serve it on --metrics-port')
  let stopUpkeep: (() => Promise<void>) | undefined
  return {
    async listen({ port, host, mqttPort }) {
      const boundPort = await http.listen(port, host).catch(cannotListen('HTTP', host, port))
      const boundMqtt =
        mqttPort === null ? null : await broker.listenTcp(mqttPort, host).catch(cannotListen('MQTT', host, mqttPort))
      const metricsPort = core.config.metrics.port
      const boundMetrics =
        metricsServer && metricsPort !== undefined
          ? await metricsServer.listen(metricsPort, host).catch(cannotListen('metrics', host, metricsPort))
          : undefined
      if (!stopUpkeep && upkeep) stopUpkeep = startUpkeep(core)
      return {
        port: boundPort,
        mqttPort: boundMqtt,
        ...(boundMetrics === undefined ? {} : { metricsPort: boundMetrics }),
      }
    },
    reloadTls() {
      if (!core.config.tls) return false
      const certificate = readTlsFiles(core.config.tls)
      for (const server of [http.secure, broker.secureServer()]) server?.setSecureContext(certificate)
      return true
    },
    async close() {
      // the broker first: its clients are long-lived and would otherwise hold the drain open
      await broker.close()
      await http.close()
      await metricsServer?.close()
      await stopUpkeep?.() // before the database closes: a run in progress finishes
      await drainThumbnails(core) // thumbnails of images already stored are made before the database closes
      await cluster?.close() // after the broker, which still writes sessions while its clients close
    },
  }
}

/** "cannot listen for MQTT on 127.0.0.1:1883: the port is in use" rather than node's bare listen error */
function cannotListen(what: string, host: string, port: number) {
  return (err: NodeJS.ErrnoException): never => {
    const reason =
      err.code === 'EADDRINUSE' ? 'the port is in use' : err.code === 'EACCES' ? 'permission denied' : err.message
    throw new Error(`cannot listen for ${what} on ${host}:${port}: ${reason}`)
  }
}
