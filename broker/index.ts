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
import type { Principal } from '../core/resources/permissions.ts'
import { readTlsFiles, type SecureServer } from '../core/tls.ts'
import { MAX_PATH_DEPTH } from '../core/resources/paths.ts'
import { authorizeSubscribe, createAcl, unsubscribed } from './acl.ts'
import { logClosings, logUnexpectedPackets } from './closing-log.ts'
import { countedAs, createConnectHooks } from './auth.ts'
import { createIngest, type Ingest } from './ingest.ts'
import { limitOfflineQueues, type QueueLength } from './offline-queue.ts'
import { boundConnectSteps } from './bounded-persistence.ts'
import type { FolderPublisher, MessageBus } from '../core/messages/types.ts'
import { pathToTopic } from './topics.ts'
import { principalOfUpgrade, serveJsonWebSocket } from './json-websocket.ts'
import { trackPresence, type Presence, type SharedPresence } from './presence.ts'
import {
  createPublishRateLimit,
  limitPacketSize,
  limitSessionsPerKey,
  READ_SLICE_BYTES,
  readInSlices,
  type SessionsPerKey,
  type SharedKeySessions,
} from './limits.ts'
import { limitRetained, memoryRetainedTopics, type RetainedTopics } from './retained.ts'
import type { SharedStoredIds } from './retransmissions.ts'
import { startRevalidation, type LiveSessions } from './revalidate.ts'
import { publishHooks, type PublishContext } from './publish.ts'
import { publishFirst } from './publish-first.ts'
import { batchWebSocketWrites, batchWrites } from './write-batching.ts'
import { pathResolverFor } from '../core/resources/resolver.ts'
import { thumbnailsWaiting } from '../core/images/queue.ts'
import { brokerName } from './cluster.ts'
import { rememberingEmitter } from './remembering-emitter.ts'
import { createConnectionMetrics, type ConnectionMetrics } from './metrics.ts'
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
  /**
   * the stored QoS 1/2 message ids of every instance, so a resend through another one is stored once (default: this
   * one's)
   */
  storedIds?: SharedStoredIds
  /** the MQTT sessions of each key on every instance (default: counted here) */
  keySessions?: SharedKeySessions
  /** the retained topics of each organization on every instance (default: counted here) */
  retainedTopics?: RetainedTopics
}

export async function createBroker(core: Core, parts: BrokerParts = {}): Promise<TendrilBroker> {
  const limits = core.config.mqtt
  // what is left of parts after these is Aedes' own (persistence, mq, id)
  const {
    queueLengths,
    presence: sharedPresence,
    storedIds: _ids,
    keySessions: _keys,
    retainedTopics: _retained,
    ...shared
  } = parts
  const aedes = newAedes(core, shared)
  const figures = core.metrics.figures
  const connections = createConnectionMetrics(core.metrics, aedes)
  const handle = (stream: Duplex) => handleStream(core, aedes, stream)
  const handleTcp = (socket: Duplex) => {
    connections.track(socket, 'tcp')
    handle(batchWrites(socket))
  }
  const { resolver, ingest, bus, acl, sessionsPerKey } = wireHooks(core, aedes, parts)
  aedes.on('unsubscribe', (filters, client) => unsubscribed(client, filters))
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
  // the persistence exists from listen() on
  limitOfflineQueues(aedes, limits.maxQueued, core.log, queueLengths?.(aedes), () => figures.offlineDropped++)
  const stopSysTopics = startSysTopics(core, aedes, connections, sysPrefix(core, brokerName(core.config)))
  // Aedes emits 'error' for failures of its own (e.g. persistence during a Redis outage); unheard, they would crash the
  // process
  ;(aedes as unknown as NodeJS.EventEmitter).on('error', (err: Error) => core.log.error({ err }, 'mqtt broker error'))
  logClosings(aedes, core.log)

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxPacketSize,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  })
  const jsonWss = new WebSocketServer({ noServer: true, maxPayload: limits.maxPacketSize })
  const jsonDoor: JsonDoor = { core, aedes, bus, presence, jsonSessions, sessionsPerKey, connections, wss: jsonWss }
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
      upgradeJsonWebSocket(jsonDoor, req, socket, head)
      return true
    },
    listenTcp(port, host) {
      tcp = tcpServer(core, handleTcp)
      return listen(tcp, port, host)
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

/** Aedes' hooks: CONNECT (auth.ts), PUBLISH and its forwarding (publish.ts), SUBSCRIBE (acl.ts). */
function wireHooks(core: Core, aedes: Aedes, parts: BrokerParts) {
  const limits = core.config.mqtt
  const resolver = pathResolverFor(core) // shared with REST (core/resources/lookup.ts)
  const publisher = folderPublisher(core, aedes)
  const ingest = createIngest(core, resolver, publisher, parts.storedIds)
  gaugeQueues(core, ingest)
  // REST and the JSON websocket store through MQTT's batches, so every door stores and announces alike
  const bus: MessageBus = { ...publisher, accept: (item) => ingest.submit(item) }
  const acl = createAcl(core, resolver)
  // MQTT sessions and JSON websockets of one key (or browser session) count against one limit
  const sessionsPerKey = limitSessionsPerKey(limits.connectionsPerKey, core.log, parts.keySessions)
  const publishing: PublishContext = {
    core,
    figures: core.metrics.figures,
    acl,
    ingest,
    withinRate: createPublishRateLimit(limits),
    keepRetained: limitRetained(limits.retainedPerOrg, core.log, parts.retainedTopics ?? memoryRetainedTopics()),
    publishFirst: publishFirst(aedes),
  }
  Object.assign(aedes, createConnectHooks(core, aedes, sessionsPerKey, resolver), publishHooks(publishing), {
    authorizeSubscribe: ((client, subscription, callback) =>
      authorizeSubscribe(acl, client, subscription, callback)) satisfies AedesOptions['authorizeSubscribe'],
  })
  return { resolver, ingest, bus, acl, sessionsPerKey }
}

function newAedes(core: Core, shared: Pick<BrokerParts, 'persistence' | 'mq' | 'id'>): Aedes {
  const limits = core.config.mqtt
  return new Aedes({
    // mqemitter's bounded queue drains itself recursively when its messages lose their subscriber,
    // which overflowed the stack (a crash) when a subscriber stopped reading under load; 0 = no queue
    concurrency: 0,
    ...shared,
    mq: shared.mq ?? rememberingEmitter(),
    ...(shared.persistence ? { persistence: boundConnectSteps(shared.persistence, core.log) } : {}),
    // a subscriber whose socket has not drained for this long is closed, so it cannot stall delivery to others
    drainTimeout: limits.drainTimeoutMs,
    connectTimeout: limits.connectTimeoutMs,
    maxTopicLevels: MAX_PATH_DEPTH,
  })
}

/** A connection's stream, over TCP or WebSocket, handed to Aedes with the packet-size limit. */
function handleStream(core: Core, aedes: Aedes, stream: Duplex): void {
  const client = aedes.handle(stream)
  limitPacketSize(client, core.config.mqtt.maxPacketSize, core.log, () => core.metrics.figures.refused.tooLarge++)
  readInSlices(client, READ_SLICE_BYTES)
  logUnexpectedPackets(client, core.log)
}

/** MQTT over TCP, or over TLS with --tls-cert. */
function tcpServer(core: Core, handleTcp: (socket: Duplex) => void): Server {
  const tls = core.config.tls
  if (!tls) return createServer(handleTcp)
  // a handshake that never finishes is closed like a CONNECT that never comes
  const options = { ...readTlsFiles(tls), handshakeTimeout: core.config.mqtt.connectTimeoutMs }
  const server = createTlsServer(options, handleTcp)
  server.on('tlsClientError', (err: Error) => core.log.debug({ err: err.message }, 'mqtt tls handshake failed'))
  return server
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port))
  })
}

/** What an upgrade to rhizo's JSON websocket needs. */
interface JsonDoor {
  core: Core
  aedes: Aedes
  bus: MessageBus
  presence: Presence
  jsonSessions: LiveSessions
  sessionsPerKey: SessionsPerKey
  connections: ConnectionMetrics
  wss: WebSocketServer
}

/** Upgrades /api/v1/websocket for a valid key or browser session within its key's limit of sessions. */
function upgradeJsonWebSocket(door: JsonDoor, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const { core } = door
  principalOfUpgrade(core, req)
    .then((caller) => {
      if (!caller) {
        core.log.info({ remote: req.socket.remoteAddress }, 'json websocket refused: no valid key or session')
        return refuseUpgrade(socket, 401)
      }
      return admitJsonSession(door, caller.principal, socket).then((ok) => {
        if (!ok) {
          core.log.info(
            { limit: core.config.mqtt.connectionsPerKey },
            'json websocket refused: the key (or browser session) holds its limit of sessions',
          )
          return refuseUpgrade(socket, 429)
        }
        door.wss.handleUpgrade(req, socket, head, (ws) => {
          door.connections.track(socket, 'json-ws')
          const { aedes, bus, presence, jsonSessions } = door
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
}

/** Counts the socket against its key's sessions until it closes; admit() takes a connection as Aedes has one. */
function admitJsonSession(door: JsonDoor, principal: Principal, socket: Duplex): Promise<boolean> {
  const counted = countedAs(principal)
  if (counted === undefined) return Promise.resolve(true)
  const connection = {
    get closed() {
      return socket.destroyed
    },
    conn: socket,
  } as unknown as Client
  return door.sessionsPerKey.admit(connection, counted, false)
}

/** Publishes the server's own messages (announced values, relayed REST messages) on a folder's topic. */
function folderPublisher(core: Core, aedes: Aedes): FolderPublisher {
  return {
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
}

function gaugeQueues(core: Core, ingest: Ingest): void {
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
}

/** Answers an upgrade request that is refused, and closes its connection. */
function refuseUpgrade(socket: Duplex, status: number): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}
