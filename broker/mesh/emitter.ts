// The emitter (Aedes' `mq`) of instances that share one Redis. Each instance delivers its own
// messages at once, and sends a message only to the instances that listen to a filter it matches:
// each instance tells the others which filters it listens to. The workers of one primary talk over
// loopback sockets; other instances through Redis channels. Redis no longer carries every message to
// every instance and back (what mqemitter-redis did, at 2.5-3× the CPU of relaying the message).
//
// A new filter counts once every other instance has acknowledged it: a SUBACK sent after that
// guarantees that what is published anywhere afterwards reaches the subscriber.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { createRequire } from 'node:module'
import { connect, createServer, type Server, type Socket } from 'node:net'
import type { Redis } from 'ioredis'
import type { Logger } from '../../core/log.ts'
import { rememberingEmitter, TopicAnswers } from '../remembering-emitter.ts'
import {
  decodeControl,
  decodeMessage,
  encodeControl,
  FrameType,
  isMessage,
  NAMING,
  RecentStrings,
  type Control,
  type Packet,
} from './frames.ts'
import { deliveryFlow, readFrames, redisLink, socketLink, splitRedisMessage, type Link } from './links.ts'

type Flow = ReturnType<typeof deliveryFlow>

type Listener = (message: Packet, done: () => void) => void

/** What Aedes calls on its `mq`: the mqemitter interface. */
export interface MeshEmitter {
  on(topic: string, listener: Listener, done?: () => void): unknown
  removeListener(topic: string, listener: Listener, done?: () => void): unknown
  emit(message: Packet, done?: (err?: Error) => void): void
  close(done: () => void): void
  /** the other instances this one knows, and how it reaches each */
  peers(): { id: string; via: Link['kind'] }[]
  /** the loopback port the other workers of its primary connect to (none outside `--workers`) */
  port?: number
}

export interface MeshOptions {
  id: string
  /** every channel starts with this (it names the Redis database: pub/sub ignores databases) */
  channelPrefix: string
  pub: Redis
  sub: Redis
  /** shared by the workers of one primary, which then talk over loopback sockets */
  secret?: string
  log: Logger
  /** the other instances that run on this Redis now */
  runningInstances(): Promise<string[]>
  isRunning(id: string): Promise<boolean>
}

interface QlobberTrue {
  add(filter: string): void
  remove(filter: string): void
  test(topic: string): boolean
}
const { QlobberTrue } = createRequire(import.meta.url)('qlobber') as {
  QlobberTrue: new (options: object) => QlobberTrue
}
// mqemitter's matching, as Aedes configures it ([MQTT-4.7.1-3]: '+' matches an empty level)
const MATCHING = { separator: '/', wildcard_one: '+', wildcard_some: '#', match_empty_levels: true }

/** How long a new filter waits for the others' acknowledgements before it counts anyway. */
const ACK_TIMEOUT_MS = 2000
/** How long start-up waits to hear from every running instance. */
const JOIN_TIMEOUT_MS = 2000
/** How often an instance announces itself again, and checks that those reached through Redis still run. */
const CHECK_EVERY_MS = 10_000
/** At most one log line this often about subscriptions not acknowledged in time. */
const REPORT_EVERY_MS = 10_000
/** The first frame on a socket is a Hello: a small one. */
const HELLO_LIMIT = 4096

/** A peer's filters. Topics repeat (a controller sends on a few): answers are kept until they change. */
class Filters {
  private trie = new QlobberTrue(MATCHING)
  private answers = new TopicAnswers<boolean>()
  private test = (topic: string) => this.trie.test(topic)
  add(filter: string): void {
    this.trie.add(filter)
    this.answers.clear()
  }
  remove(filter: string): void {
    this.trie.remove(filter)
    this.answers.clear()
  }
  matches(topic: string): boolean {
    return this.answers.get(topic, this.test)
  }
}

interface Peer {
  id: string
  link: Link
  filters: Filters
  /** whoever opened the socket; of two sockets between the same pair, the one its smaller id opened stays */
  openedBy?: string
  /** acknowledgements awaited from this peer, by sequence number */
  awaiting: Map<number, () => void>
  /** the topics and client ids of its last messages */
  recent: RecentStrings
}

type Announcement = { hello: { id: string; group?: string; port?: number } } | { bye: string }

export async function startMesh(options: MeshOptions): Promise<MeshEmitter> {
  const { id, pub, sub, log } = options
  const local = rememberingEmitter()
  const peers = new Map<string, Peer>()
  /** filter → listener → how many times it was added */
  const listening = new Map<string, Map<Listener, number>>()
  const announcing = new Map<string, Promise<void>>()
  let seq = 0
  let dropped = 0
  let closed = false

  const broadcast = `${options.channelPrefix}mesh`
  const inbox = `${options.channelPrefix}mesh/${id}`
  const group = options.secret && createHash('sha256').update(options.secret).digest('hex').slice(0, 16)
  const secret = options.secret ? Buffer.from(options.secret) : undefined

  const send = (peer: Peer, control: Control) => peer.link.send(encodeControl(control))
  const syncOf = (answer: boolean): Control => ({
    type: FrameType.Sync,
    filters: [...listening.keys()],
    answer,
    naming: NAMING,
  })

  /**
   * The peer reached through `link`. A socket replaces a Redis channel; of two sockets between the
   * same pair (both learnt of the other at once), both sides keep the one the smaller id opened.
   */
  function addPeer(peerId: string, link: Link, openedBy?: string): Peer {
    const known = peers.get(peerId)
    if (!known) {
      const peer: Peer = {
        id: peerId,
        link,
        openedBy,
        filters: new Filters(),
        awaiting: new Map(),
        recent: new RecentStrings(),
      }
      peers.set(peerId, peer)
      log.debug({ peer: peerId, via: link.kind }, 'mesh: instance joined')
      return peer
    }
    const replace = link.kind === 'socket' && (known.link.kind === 'redis' || (openedBy ?? '') < (known.openedBy ?? ''))
    if (!replace) {
      if (link !== known.link) link.close()
      return known
    }
    known.link.close()
    link.naming = known.link.naming
    known.link = link
    known.openedBy = openedBy
    return known
  }

  function dropPeer(peer: Peer, why: string): void {
    if (peers.get(peer.id) !== peer) return
    peers.delete(peer.id)
    peer.link.close()
    for (const acknowledged of peer.awaiting.values()) acknowledged()
    log.info({ peer: peer.id, why }, 'mesh: instance left')
  }

  /** `names`: those of the batch being read, kept per socket (or per Redis message, a batch each) */
  function onFrame(peer: Peer, frame: Buffer, names: string[], flow?: Flow): void {
    if (isMessage(frame)) {
      const packet = decodeMessage(frame, peer.id, peer.recent, names)
      if (!flow) return void local.emit(packet)
      flow.started()
      local.emit(packet, flow.delivered)
      return
    }
    const control = decodeControl(frame)
    switch (control.type) {
      case FrameType.Sync: {
        peer.filters = new Filters()
        for (const filter of control.filters) peer.filters.add(filter)
        peer.link.naming = control.naming === NAMING
        if (control.answer) send(peer, syncOf(false))
        return
      }
      case FrameType.Add:
        peer.filters.add(control.filter)
        return send(peer, { type: FrameType.Ack, seq: control.seq })
      case FrameType.Remove:
        return peer.filters.remove(control.filter)
      case FrameType.Ack: {
        const acknowledged = peer.awaiting.get(control.seq)
        peer.awaiting.delete(control.seq)
        return acknowledged?.()
      }
    }
  }

  /** Frames through Redis: from a peer it knows, or one it learns of now (and asks for its filters). */
  function onRedisMessage(channel: Buffer, message: Buffer): void {
    if (closed) return
    try {
      const name = channel.toString()
      if (name === broadcast) return onAnnouncement(JSON.parse(message.toString()) as Announcement)
      if (name !== inbox) return
      const { from, frames } = splitRedisMessage(message)
      let peer = peers.get(from)
      if (!peer) {
        peer = addPeer(from, redisLink(pub, `${options.channelPrefix}mesh/${from}`, id))
        if (frames[0]?.[0] !== FrameType.Sync) send(peer, syncOf(true))
      }
      const names: string[] = []
      for (const frame of frames) onFrame(peer, frame, names)
    } catch (err) {
      log.warn({ err }, 'mesh: a message through redis could not be read')
    }
  }

  function onAnnouncement(announcement: Announcement): void {
    if ('bye' in announcement) {
      const peer = peers.get(announcement.bye)
      if (peer) dropPeer(peer, 'stopped')
      return
    }
    const { hello } = announcement
    if (hello.id === id || peers.has(hello.id)) return
    const viaRedis = () => {
      if (closed || peers.has(hello.id)) return
      send(addPeer(hello.id, redisLink(pub, `${options.channelPrefix}mesh/${hello.id}`, id)), syncOf(true))
    }
    if (!group || hello.group !== group || !hello.port) return viaRedis()
    const socket = connect({ host: '127.0.0.1', port: hello.port })
    socket.setNoDelay(true)
    socket.on('error', (err) => {
      log.debug({ err, peer: hello.id }, 'mesh: socket to a worker failed')
      if (!peers.has(hello.id)) viaRedis()
    })
    socket.once('connect', () => {
      const peer = attachSocket(socket, hello.id, id)
      socket.write(lengthPrefixedHello())
      send(peer, syncOf(false))
    })
  }

  function lengthPrefixedHello(): Buffer {
    const hello = encodeControl({ type: FrameType.Hello, id, secret: options.secret! })
    const out = Buffer.allocUnsafe(4 + hello.length)
    out.writeUInt32LE(hello.length, 0)
    hello.copy(out, 4)
    return out
  }

  /** A socket whose other end is known: its frames go to that peer; its close drops it. */
  function attachSocket(socket: Socket, peerId: string, openedBy: string, knownFrames = true): Peer {
    const link = socketLink(
      socket,
      id,
      () => {
        if (dropped++ === 0) log.warn({ peer: peerId }, 'mesh: a worker does not read; dropping messages to it')
      },
      () => log.warn({ peer: peerId }, 'mesh: a worker stopped reading; its publishers no longer wait for it'),
    )
    const peer = addPeer(peerId, link, openedBy)
    socket.once('close', () => {
      if (peer.link === link) dropPeer(peer, 'socket closed')
    })
    if (knownFrames) {
      const flow = deliveryFlow(socket)
      const names: string[] = []
      readFrames(socket, Number.MAX_SAFE_INTEGER, (frame) => readable(peer, frame, names, flow))
    }
    return peer
  }

  /** Sockets opened by workers that learnt of this one: the first frame proves they share the secret. */
  function acceptSocket(socket: Socket): void {
    socket.setNoDelay(true)
    socket.on('error', () => undefined)
    let peer: Peer | undefined
    const flow = deliveryFlow(socket)
    const names: string[] = []
    readFrames(socket, HELLO_LIMIT, (frame) => {
      if (peer) return readable(peer, frame, names, flow)
      const control = frame[0] === FrameType.Hello ? decodeControl(frame) : undefined
      if (control?.type !== FrameType.Hello || !sameSecret(control.secret) || control.id === id || closed) {
        log.warn({ remote: socket.remotePort }, 'mesh: refused a socket without the workers’ secret')
        return false
      }
      peer = attachSocket(socket, control.id, control.id, false)
      send(peer, syncOf(false))
      return true
    })
  }

  /** false (the socket closes) for a frame that cannot be read: the peer runs other code, or is broken */
  function readable(peer: Peer, frame: Buffer, names: string[], flow: Flow): boolean {
    try {
      onFrame(peer, frame, names, flow)
      return true
    } catch (err) {
      log.warn({ err, peer: peer.id }, 'mesh: a frame from a worker could not be read; closing its socket')
      return false
    }
  }

  function sameSecret(offered: unknown): boolean {
    if (!secret || typeof offered !== 'string') return false
    const bytes = Buffer.from(offered)
    return bytes.length === secret.length && timingSafeEqual(bytes, secret)
  }

  /** Tells every peer of a new filter; resolves once all acknowledged it (or left, or the timeout passed). */
  function announce(filter: string): Promise<void> {
    const asked: [Peer, number][] = []
    const waits = [...peers.values()].map(
      (peer) =>
        new Promise<void>((resolve) => {
          const n = ++seq
          peer.awaiting.set(n, resolve)
          asked.push([peer, n])
          send(peer, { type: FrameType.Add, filter, seq: n })
        }),
    )
    if (waits.length === 0) return Promise.resolve()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        noteUnacknowledged(filter)
        for (const [peer, n] of asked) peer.awaiting.delete(n) // an answer after this counts for nothing
        resolve()
      }, ACK_TIMEOUT_MS)
    })
    return Promise.race([Promise.all(waits).then(() => undefined), timeout]).finally(() => clearTimeout(timer))
  }

  let unacknowledged = 0
  /** One line, then at most one more per REPORT_EVERY_MS with how many followed (Redis away: all of them). */
  function noteUnacknowledged(filter: string): void {
    if (unacknowledged++ > 0) return
    log.warn({ filter }, 'mesh: an instance did not acknowledge a subscription in time')
    setTimeout(() => {
      if (unacknowledged > 1)
        log.warn({ more: unacknowledged - 1 }, 'mesh: more subscriptions not acknowledged in time')
      unacknowledged = 0
    }, REPORT_EVERY_MS).unref()
  }

  // Redis channels first, so that an instance announcing itself meanwhile is heard
  sub.on('messageBuffer', onRedisMessage)
  await sub.subscribe(broadcast, inbox)
  let server: Server | undefined
  let port: number | undefined
  if (secret) {
    server = createServer(acceptSocket)
    port = await new Promise<number>((resolve, reject) => {
      server!.once('error', reject)
      // exclusive: a cluster worker's port 0 would otherwise be one port shared by all the workers
      server!.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () =>
        resolve((server!.address() as { port: number }).port),
      )
    })
  }
  const hello = JSON.stringify({ hello: { id, group, port } } satisfies Announcement)
  await pub.publish(broadcast, hello)
  await joined()

  // Also said again now and then: an instance that dropped this one (Redis lost their heartbeats for
  // a while) learns of it again.
  const checker = setInterval(() => {
    void pub.publish(broadcast, hello).catch(() => undefined)
    void checkRedisPeers()
  }, CHECK_EVERY_MS).unref()
  const missedBeats = new Map<string, number>()

  /** Waits (a bounded time) until every instance running on this Redis is a peer. */
  async function joined(): Promise<void> {
    const running = (await options.runningInstances()).filter((other) => other !== id)
    const deadline = Date.now() + JOIN_TIMEOUT_MS
    while (running.some((other) => !peers.has(other)) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20))
    const missing = running.filter((other) => !peers.has(other))
    if (missing.length > 0) log.warn({ missing }, 'mesh: running instances did not answer; going on without them')
  }

  /**
   * An instance gone without a goodbye (a crash) stops being sent to once its heartbeat has expired at
   * two checks in a row: after a restart of Redis, a running instance's heartbeat is back within one.
   */
  async function checkRedisPeers(): Promise<void> {
    for (const peer of [...peers.values()]) {
      if (peer.link.kind !== 'redis') continue
      const running = await options.isRunning(peer.id).catch(() => true)
      const missed = running ? 0 : (missedBeats.get(peer.id) ?? 0) + 1
      if (missed >= 2) dropPeer(peer, 'heartbeat expired')
      if (missed === 0 || missed >= 2) missedBeats.delete(peer.id)
      else missedBeats.set(peer.id, missed)
    }
  }

  return {
    on(topic, listener, done) {
      local.on(topic, listener)
      const listeners = listening.get(topic) ?? new Map<Listener, number>()
      const isNew = listeners.size === 0
      listeners.set(listener, (listeners.get(listener) ?? 0) + 1)
      listening.set(topic, listeners)
      let wait = announcing.get(topic)
      if (isNew) {
        const announced = announce(topic)
        wait = announced
        announcing.set(topic, announced)
        void announced.then(() => announcing.get(topic) === announced && announcing.delete(topic))
      }
      if (done) void (wait ?? Promise.resolve()).then(() => done())
      return this
    },
    removeListener(topic, listener, done) {
      const listeners = listening.get(topic)
      const count = listeners?.get(listener)
      if (listeners && count !== undefined) {
        if (count > 1) listeners.set(listener, count - 1)
        else listeners.delete(listener)
        if (listeners.size === 0) {
          listening.delete(topic)
          for (const peer of peers.values()) send(peer, { type: FrameType.Remove, filter: topic })
        }
      }
      local.removeListener(topic, listener, done)
      return this
    },
    emit(message, done) {
      // QoS 1/2: the PUBACK (which waits for this) goes out once the message has also left for the
      // other instances, so an instance killed right after it has not lost a message it acknowledged
      if (!done || !(Number(message.qos) > 0)) {
        let behind: Link[] | undefined
        for (const peer of peers.values())
          if (peer.filters.matches(message.topic)) {
            peer.link.sendMessage(message)
            if (peer.link.backlogged()) (behind ??= []).push(peer.link)
          }
        if (!done || !behind) {
          // nobody here listens (a message for another worker's client): mqemitter would call back at once
          if (!local.reaches(message.topic)) return void done?.()
          return local.emit(message, done)
        }
        // a worker busier than this one: the publisher waits for it, as for a slow subscriber here
        let waits = 1 + behind.length
        const settled = () => void (--waits === 0 && done())
        for (const link of behind) link.whenDrained(settled)
        return local.emit(message, settled)
      }
      let pending = 1
      let failure: Error | undefined
      const settled = (err?: Error) => {
        failure ??= err
        if (--pending === 0) done(failure)
      }
      for (const peer of peers.values())
        if (peer.filters.matches(message.topic)) {
          pending++
          peer.link.sendMessage(message, settled)
        }
      local.emit(message, settled)
    },
    close(done) {
      if (closed) return void setImmediate(done)
      closed = true
      clearInterval(checker)
      sub.off('messageBuffer', onRedisMessage)
      void sub.unsubscribe(broadcast, inbox).catch(() => undefined)
      // socket peers see the socket close; the others hear it on the broadcast channel
      void pub.publish(broadcast, JSON.stringify({ bye: id } satisfies Announcement)).catch(() => undefined)
      for (const peer of peers.values()) peer.link.close()
      peers.clear()
      server?.close()
      local.close(done)
    },
    peers: () => [...peers.values()].map((peer) => ({ id: peer.id, via: peer.link.kind })),
    port,
  }
}

/** A secret for the workers of one primary to know each other's sockets by. */
export const newMeshSecret = () => randomBytes(24).toString('base64url')
