// The embedded Aedes broker and its transports: MQTT over TCP, and over WebSocket on the HTTP
// server's /mqtt path (subprotocol "mqtt").
import { createServer, type Server } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import type { AddressInfo } from 'node:net'
import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { Aedes, type AedesOptions, type Client } from 'aedes'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { Core } from '../core/index.ts'
import { TendrilError } from '../core/errors.ts'
import { readTlsFiles, type SecureServer } from '../core/tls.ts'
import { MAX_PATH_DEPTH } from '../core/resources/paths.ts'
import { createAclHooks } from './acl.ts'
import { logClosings, logUnexpectedPackets } from './closing-log.ts'
import { countedAs, createConnectHooks } from './auth.ts'
import { sessionOf } from './clients.ts'
import { createIngest } from './ingest.ts'
import { limitOfflineQueues, type QueueLength } from './offline-queue.ts'
import type { FolderPublisher, MessageBus } from '../core/messages/types.ts'
import { pathToTopic } from './topics.ts'
import { principalOfUpgrade, serveJsonWebSocket } from './json-websocket.ts'
import { trackPresence, type SharedPresence } from './presence.ts'
import { createPublishRateLimit, limitPacketSize, limitSessionsPerKey, type SharedKeySessions } from './limits.ts'
import { limitRetained, memoryRetainedTopics, type RetainedTopics } from './retained.ts'
import type { SharedStoredIds } from './retransmissions.ts'
import { startRevalidation, stillValid, type LiveSessions } from './revalidate.ts'
import { batchWebSocketWrites, batchWrites } from './write-batching.ts'
import { pathResolverFor } from '../core/resources/resolver.ts'
import { thumbnailsWaiting } from '../core/images/queue.ts'
import { brokerName } from './cluster.ts'
import { createConnectionMetrics } from './metrics.ts'
import { startSysTopics, sysPrefix } from './sys-topics.ts'

export interface TendrilBroker {
  aedes: Aedes
  bus: MessageBus
  /** routes an HTTP upgrade for /mqtt; returns false for other paths */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean
  listenTcp(port: number, host: string): Promise<number>
  /** the MQTT-over-TLS listener, to take a renewed certificate (none without --tls-cert) */
  secureServer(): SecureServer | undefined
  close(): Promise<void>
}

/** Shared state for several instances (Redis); omitted, Aedes keeps it in memory. */
export interface BrokerParts {
  persistence?: AedesOptions['persistence']
  mq?: AedesOptions['mq']
  id?: string
  /** the queue lengths of the shared persistence (default: counted beside the in-memory one) */
  queueLengths?: (aedes: Aedes) => QueueLength
  /** which instance holds which controller (default: this instance alone) */
  presence?: SharedPresence
  /** the stored QoS 1/2 message ids of every instance, so a resend through another one is stored once (default: this one's) */
  storedIds?: SharedStoredIds
  /** the MQTT sessions of each key on every instance (default: counted here) */
  keySessions?: SharedKeySessions
  /** the retained topics of each organization on every instance (default: counted here) */
  retainedTopics?: RetainedTopics
}

export async function createBroker(core: Core, parts: BrokerParts = {}): Promise<TendrilBroker> {
  const limits = core.config.mqtt
  const {
    queueLengths,
    presence: sharedPresence,
    storedIds,
    keySessions,
    retainedTopics = memoryRetainedTopics(),
    ...shared
  } = parts
  const aedes = new Aedes({
    // mqemitter's bounded queue drains itself recursively when its messages lose their subscriber,
    // which overflowed the stack (a crash) when a subscriber stopped reading under load; 0 = no queue
    concurrency: 0,
    ...shared,
    // a subscriber whose socket has not drained for this long is closed, so it cannot stall delivery to others
    drainTimeout: limits.drainTimeoutMs,
    connectTimeout: limits.connectTimeoutMs,
    maxTopicLevels: MAX_PATH_DEPTH,
  })
  const withinRate = createPublishRateLimit(limits)
  const keepRetained = limitRetained(limits.retainedPerOrg, core.log, retainedTopics)
  const figures = core.metrics.figures
  const connections = createConnectionMetrics(core.metrics, aedes)
  const handle = (stream: Duplex) => {
    const client = aedes.handle(stream)
    limitPacketSize(client, limits.maxPacketSize, core.log, () => figures.refused.tooLarge++)
    logUnexpectedPackets(client, core.log)
  }
  const handleTcp = (socket: Duplex) => {
    connections.track(socket, 'tcp')
    handle(batchWrites(socket))
  }
  const resolver = pathResolverFor(core) // shared with REST (core/resources/lookup.ts)
  const publisher: FolderPublisher = {
    publishToFolder(path, payload, origin) {
      const packet = {
        cmd: 'publish',
        topic: pathToTopic(path),
        payload,
        qos: 0,
        retain: false,
        dup: false,
        ...(origin ? { clientId: origin } : {}),
      }
      aedes.publish(packet as never, (err) => err && core.log.error({ err }, 'publishing to a folder failed'))
    },
  }
  const ingest = createIngest(core, resolver, publisher, storedIds)
  core.metrics.gauge(
    'tendril_queue_length',
    'work waiting: messages for the next ingest batch, history rows held back, thumbnails to make',
    'queue',
    {
      ingest: () => ingest.waiting,
      history: () => core.history.held,
      thumbnails: () => thumbnailsWaiting(core),
    },
  )
  // REST and the JSON websocket store through MQTT's batches, so every door stores and announces alike
  const bus: MessageBus = { ...publisher, accept: (item) => ingest.submit(item) }
  const acl = createAclHooks(core, resolver)
  // MQTT sessions and JSON websockets of one key (or browser session) count against one limit
  const sessionsPerKey = limitSessionsPerKey(limits.connectionsPerKey, core.log, keySessions)
  // counted as they pass: an increment per message, nothing more
  const authorizeForward: AedesOptions['authorizeForward'] = (client, packet) => {
    const forwarded = acl.authorizeForward(client, packet)
    if (forwarded) {
      figures.publishSent++
      figures.publishBytesSent += forwarded.payload.length
    }
    return forwarded
  }
  Object.assign(
    aedes,
    createConnectHooks(core, aedes, sessionsPerKey, resolver),
    { authorizeSubscribe: acl.authorizeSubscribe, authorizeForward },
    {
      // authorized first, then stored, then acknowledged and relayed by Aedes
      authorizePublish: ((client, packet, callback) => {
        if (client) {
          figures.publishReceived++
          figures.publishBytesReceived += packet.payload.length
        }
        // Aedes publishes a will through here too: a session closed for its credentials leaves none
        const session = sessionOf(client)
        if (session?.revoked) {
          figures.refused.revoked++
          return callback(new Error('the session was closed: its credentials lost their power'))
        }
        // nor one that dropped after a revocation but before revalidation's next tick: a will waits for a check
        if (session && !session.willChecked && packet === (client as { will?: unknown }).will) {
          session.willChecked = true
          return void stillValid(core, client!.id, session.principal).then((valid) => {
            if (valid) return aedes.authorizePublish(client, packet, callback)
            core.log.info({ clientId: client!.id }, 'mqtt will not published: its credentials lost their power')
            callback(new Error('the will was not published: its credentials lost their power'))
          }, callback)
        }
        if (client && !withinRate(client)) {
          core.log.info(
            { clientId: client.id, limit: limits.publishRate },
            'mqtt connection closed: publish rate exceeded',
          )
          figures.refused.rate++
          return callback(new Error('publish rate exceeded'))
        }
        const store = () => {
          const storing = ingest.accept(client!, packet)
          if (!storing) return callback(null)
          storing.then(
            () => callback(null),
            (err: Error) => {
              figures.refused.storeFailed++
              callback(err)
            },
          )
        }
        acl.authorizePublish(client, packet, (err) => {
          if (err) figures.refused.access++
          if (err || !client) return callback(err)
          if (packet.retain) return void keepRetained(client, packet).then(store)
          store()
        })
      }) satisfies AedesOptions['authorizePublish'],
    },
  )
  aedes.on('unsubscribe', (filters, client) => acl.unsubscribed(client, filters))
  const presence = trackPresence(core, aedes, sharedPresence)
  const jsonSessions: LiveSessions = new Set()
  const stopRevalidation = await startRevalidation(
    core,
    aedes,
    acl,
    () => {
      ingest.accessChanged()
      resolver.invalidate() // renames, moves and deletes move the version too
    },
    jsonSessions,
  )
  await aedes.listen()
  limitOfflineQueues(aedes, limits.maxQueued, core.log, queueLengths?.(aedes), () => figures.offlineDropped++) // the persistence exists from listen() on
  const stopSysTopics = startSysTopics(core, aedes, connections, sysPrefix(core, brokerName(core.config)))
  // Aedes emits 'error' for failures of its own (e.g. persistence during a Redis outage); unheard, they would crash the process
  ;(aedes as unknown as NodeJS.EventEmitter).on('error', (err: Error) => core.log.error({ err }, 'mqtt broker error'))
  logClosings(aedes, core.log)

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxPacketSize,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  })
  const jsonWss = new WebSocketServer({ noServer: true, maxPayload: limits.maxPacketSize })
  let tcp: Server | undefined

  return {
    aedes,
    bus,
    handleUpgrade(req, socket, head) {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      if (path === '/mqtt') {
        wss.handleUpgrade(req, socket, head, (ws) => {
          connections.track(socket, 'ws')
          const stream = batchWebSocketWrites(createWebSocketStream(ws))
          stream.on('error', () => ws.terminate()) // a broken socket must not become an unhandled error
          handle(stream)
        })
        return true
      }
      if (path !== '/api/v1/websocket') return false
      principalOfUpgrade(core, req)
        .then((caller) => {
          if (!caller) {
            core.log.info({ remote: req.socket.remoteAddress }, 'json websocket refused: no valid key or session')
            return refuseUpgrade(socket, 401)
          }
          const counted = countedAs(caller.principal)
          // admit() counts until the socket closes; it takes a connection as Aedes has one
          const connection = {
            get closed() {
              return socket.destroyed
            },
            conn: socket,
          } as unknown as Client
          const admitted =
            counted === undefined ? Promise.resolve(true) : sessionsPerKey.admit(connection, counted, false)
          return admitted.then((ok) => {
            if (!ok) {
              core.log.info(
                { limit: limits.connectionsPerKey },
                'json websocket refused: the key (or browser session) holds its limit of sessions',
              )
              return refuseUpgrade(socket, 429)
            }
            jsonWss.handleUpgrade(req, socket, head, (ws) => {
              connections.track(socket, 'json-ws')
              serveJsonWebSocket(core, aedes, bus, presence, jsonSessions, ws, caller.principal, caller.clientVersion)
            })
          })
        })
        .catch((err: Error) => {
          if (err instanceof TendrilError) {
            core.log.info(
              { remote: req.socket.remoteAddress, origin: req.headers.origin, reason: err.message },
              'json websocket refused',
            )
            return refuseUpgrade(socket, err.status)
          }
          core.log.error({ err }, 'json websocket upgrade failed')
          socket.destroy()
        })
      return true
    },
    listenTcp(port, host) {
      const tls = core.config.tls
      // a handshake that never finishes is closed like a CONNECT that never comes
      tcp = tls
        ? createTlsServer({ ...readTlsFiles(tls), handshakeTimeout: limits.connectTimeoutMs }, handleTcp)
        : createServer(handleTcp)
      if (tls)
        tcp.on('tlsClientError', (err: Error) => core.log.debug({ err: err.message }, 'mqtt tls handshake failed'))
      return new Promise((resolve, reject) => {
        tcp!.once('error', reject)
        tcp!.listen(port, host, () => resolve((tcp!.address() as AddressInfo).port))
      })
    },
    secureServer() {
      return core.config.tls ? (tcp as SecureServer | undefined) : undefined
    },
    async close() {
      stopRevalidation()
      stopSysTopics()
      tcp?.close()
      for (const ws of [...wss.clients, ...jsonWss.clients]) ws.terminate()
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
      await ingest.flush() // what was accepted before the close is stored
      await presence.close()
    },
  }
}

/** Answers an upgrade request that is refused, and closes its connection. */
function refuseUpgrade(socket: Duplex, status: number): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}
