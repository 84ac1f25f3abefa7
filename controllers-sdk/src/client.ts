// The controller client: one MQTT connection (TCP or WebSocket) kept up with backoff and jitter,
// an outbound queue drained in order, subscriptions, the watchdog heartbeat, and REST for files.
// Shared by Node and browsers: nothing here imports a Node module (the disk queue is passed in).
//
// The connection is managed here rather than by MQTT.js's own reconnect: each attempt is a fresh
// MQTT.js client with a clean session, and whatever was in flight when a connection dropped is
// sent again from the queue. That keeps one owner for "what still has to be sent" (the queue, which
// may be on disk), and lets a publish the server keeps refusing be told apart and dropped.
import mqtt, { type MqttClient } from 'mqtt'
import {
  AuthError,
  ConnectionError,
  NotFoundError,
  PermissionError,
  TendrilSdkError,
  ValidationError,
} from './errors.ts'
import { pathToTopic, resolvePath, resourceUrl, splitPath } from './paths.ts'
import type { OutboundQueue, QueueItem } from './queue/types.ts'
import { json, request, SDK_VERSION, toBase64, type RestOptions } from './rest.ts'
import { decodeInbound, nextPublish, type InboundMessage, type Publish } from './wire.ts'

export interface ClientOptions {
  /** HTTP base URL of the server (REST, and MQTT over its /mqtt WebSocket unless `mqttUrl` is given) */
  server: string
  /** the controller's API key */
  key: string
  /** MQTT over TCP (mqtt://, mqtts://) or another WebSocket URL; default: `server` + /mqtt over ws(s) */
  mqttUrl?: string
  /** the controller's folder, e.g. "/acme/greenhouse/pi-1"; default: asked of the server (/self) */
  controllerPath?: string
  /** seconds between watchdog messages while connected (default 60; 0 turns them off) */
  watchdogSeconds?: number
  /** reconnect delays: from minMs doubling up to maxMs, each scaled by a random 50–100 % (default 500 ms .. 30 s) */
  reconnect?: { minMs?: number; maxMs?: number }
  /** ms connect() waits for the first connection before resolving offline (default 10 s) */
  connectTimeoutMs?: number
  /** QoS 1 publishes awaiting PUBACK at once (default 8) */
  maxInFlight?: number
}

export interface Message {
  type: string
  parameters: Record<string, unknown>
  /** the folder the message was sent to */
  folder: string
}
export type MessageHandler = (message: Message) => void

export interface SubscribeOptions {
  /** only messages of this type (default: all) */
  type?: string
  /** also messages to folders below this one (default false) */
  includeChildren?: boolean
}

export interface Subscription {
  unsubscribe(): Promise<void>
}

export type SequenceValue = number | string | boolean
export interface ClientEvents {
  connect: () => void
  offline: (error?: TendrilSdkError) => void
  /** errors that have no caller to throw to: a refused publish, a lost key, a failed subscription */
  error: (error: TendrilSdkError) => void
  /** entries dropped because the queue was full */
  drop: (count: number) => void
}

interface Registered {
  folder: string | null // null: the controller's own folder, known once connected
  options: SubscribeOptions
  handler: MessageHandler
}

/** Publishes to another folder refused this many times in a row (connection closed) are dropped. */
const REFUSALS_BEFORE_DROP = 3
const MAX_MESSAGE_TYPE_LENGTH = 40

export class TendrilClient {
  /** the controller's folder path, once known */
  controllerPath: string | null
  private mqtt: MqttClient | null = null
  private connected = false
  private closing = false
  private attempt = 0
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined
  private watchdogTimer: ReturnType<typeof setInterval> | undefined
  private cursor = 0
  private inFlight = new Set<Publish>()
  private refusals = new Map<number, number>()
  private subscriptions = new Set<Registered>()
  private subscribed = new Set<string>()
  private drainWaiters: (() => void)[] = []
  /** close() waiting for the publishes in flight */
  private settleWaiters: (() => void)[] = []
  private listeners: { [E in keyof ClientEvents]?: ClientEvents[E][] } = {}
  private readonly rest: RestOptions
  private readonly mqttOnly: boolean

  // The calls below are async so that bad arguments reject (ValidationError) like everything else.
  readonly sequences = {
    /** Stores a value in a sequence (queued until the server has it); resolves once queued. */
    update: async (path: string, value: SequenceValue, options: { timestamp?: Date | string } = {}): Promise<void> =>
      this.enqueue([this.valueItem(path, value, stamp(options.timestamp))]),
    /** Stores several values, all with one timestamp: `{ temperature: 21.5, 'status/processor_usage': 12 }`. */
    updateMany: async (
      values: Record<string, SequenceValue>,
      options: { timestamp?: Date | string } = {},
    ): Promise<void> => {
      const t = stamp(options.timestamp)
      return this.enqueue(Object.entries(values).map(([path, value]) => this.valueItem(path, value, t)))
    },
  }

  readonly messages = {
    /** Sends a message to a folder (default: the controller's own); queued like values. */
    send: async (
      type: string,
      parameters: Record<string, unknown> = {},
      options: { folder?: string } = {},
    ): Promise<void> => {
      checkMessageType(type)
      if (options.folder !== undefined) resolvePath('/', options.folder)
      return this.enqueue([{ kind: 'message', folder: options.folder ?? null, type, parameters }])
    },
    /** Calls handler for each message of this type sent to the controller's own folder. */
    on: (type: string, handler: MessageHandler) => this.register({ folder: null, options: { type }, handler }),
  }

  readonly status = {
    /**
     * Records status values in the controller's status/ sequences (rhizo's status/processor_usage,
     * status/free_disk_space, …): `status.set({ processor_usage: 12.5 })`. Names without a sequence
     * are refused by the server (logged there), as any unknown sequence is.
     */
    set: async (values: Record<string, SequenceValue>, options: { timestamp?: Date | string } = {}): Promise<void> => {
      const t = stamp(options.timestamp)
      return this.enqueue(Object.entries(values).map(([name, value]) => this.valueItem(`status/${name}`, value, t)))
    },
  }

  readonly files = {
    /** The bytes of a file. */
    read: async (path: string): Promise<Uint8Array> => {
      const response = await request(this.rest, 'GET', resourceUrl(this.rest.base, await this.absolute(path)))
      return new Uint8Array(await response.arrayBuffer())
    },
    /** The text of a file (UTF-8). */
    readText: async (path: string): Promise<string> => new TextDecoder().decode(await this.files.read(path)),
    /** Writes a file: a new revision of an existing file, or a new file in an existing folder. */
    write: async (path: string, data: string | Uint8Array): Promise<void> => {
      const absolute = await this.absolute(path)
      const base64 = toBase64(typeof data === 'string' ? new TextEncoder().encode(data) : data)
      try {
        await request(this.rest, 'PUT', resourceUrl(this.rest.base, absolute), { data: base64 })
      } catch (err) {
        if (!(err instanceof TendrilSdkError) || err.status !== 404) throw err
        const [parent, name] = splitPath(absolute)
        await request(this.rest, 'POST', `${this.rest.base}/api/v1/resources`, {
          path: parent,
          name,
          type: 20,
          data: base64,
        })
      }
    },
    /**
     * The resources in a folder (default: the controller's own): `{id, name, type}`, type 20 = file, 21 = sequence,
     * 10–13 folders.
     */
    list: async (folder = ''): Promise<{ id: number; name: string; type: number }[]> => {
      const path = folder === '' ? await this.self() : await this.absolute(folder)
      return json(await request(this.rest, 'GET', resourceUrl(this.rest.base, path)))
    },
  }

  constructor(
    private readonly options: ClientOptions,
    /** the outbound queue: disk (Node) or memory (browsers) */
    readonly queue: OutboundQueue,
  ) {
    if (!options.key) throw new ValidationError('a key is required (see provision() for getting one)')
    // `server` may itself be an MQTT URL (mqtt://host:1883): then there is no REST (files, /self)
    this.mqttOnly = /^(mqtts?|wss?):/i.test(options.server)
    this.rest = { base: this.mqttOnly ? '' : options.server.replace(/\/+$/, ''), key: options.key }
    this.controllerPath = options.controllerPath ? resolvePath('/', options.controllerPath) : null
    queue.onDrop = (count) => this.emit('drop', count)
  }

  get isConnected(): boolean {
    return this.connected
  }

  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this {
    ;(this.listeners[event] ??= [] as never[]).push(listener as never)
    return this
  }

  off<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this {
    const list = this.listeners[event] as ClientEvents[E][] | undefined
    const at = list ? list.indexOf(listener) : -1
    if (at >= 0) list!.splice(at, 1)
    return this
  }

  /**
   * Subscribes to messages sent to a folder: a path relative to the controller's folder, absolute,
   * or "" for the controller's folder itself.
   */
  subscribe(folder: string, options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    if (folder !== '') resolvePath('/', folder) // syntax only; relative paths resolve once the own folder is known
    return this.register({ folder: folder === '' ? null : folder, options, handler })
  }

  /** Resolves once everything queued so far is stored by the server (or rejects after timeoutMs). */
  flush(timeoutMs = 60_000): Promise<void> {
    if (this.queue.size === 0) return this.queue.flush()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ConnectionError(`${this.queue.size} queued entries not delivered within ${timeoutMs} ms`)),
        timeoutMs,
      )
      this.drainWaiters.push(() => {
        clearTimeout(timer)
        resolve(this.queue.flush())
      })
    })
  }

  /**
   * Closes the connection and the queue. Publishes in flight first get up to `timeoutMs` for their
   * acknowledgements, so the next run does not send again what the server already has; what was not
   * delivered stays queued (on disk) for the next run.
   */
  async close(timeoutMs = 5_000): Promise<void> {
    this.closing = true
    clearTimeout(this.reconnectTimer)
    clearInterval(this.watchdogTimer)
    await this.settleInFlight(timeoutMs)
    const client = this.mqtt
    this.mqtt = null
    this.connected = false
    if (client) await new Promise<void>((resolve) => client.end(true, {}, () => resolve()))
    await this.queue.close()
  }

  private settleInFlight(timeoutMs: number): Promise<void> {
    if (!this.connected || this.inFlight.size === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      this.settleWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  private wakeSettled(): void {
    if (this.inFlight.size === 0) for (const wake of this.settleWaiters.splice(0)) wake()
  }

  /** The controller's folder path: given, or asked of the server with the key (GET /api/v1/resources/self?meta=1). */
  async self(): Promise<string> {
    if (this.controllerPath) return this.controllerPath
    const meta = await json<{ path?: unknown }>(
      await request(this.rest, 'GET', resourceUrl(this.rest.base, '/self'), undefined, { meta: '1' }),
    )
    if (typeof meta.path !== 'string' || !meta.path.startsWith('/'))
      throw new ConnectionError('the server did not say which folder this key controls')
    this.controllerPath = meta.path
    this.learnedControllerPath?.(meta.path)
    return meta.path
  }

  /** Set by the Node entry point to remember a path learned from the server next to the queue. */
  learnedControllerPath?: (path: string) => void

  /** Starts connecting; resolves on the first connection, or offline when the server cannot be reached. */
  start(): Promise<this> {
    return new Promise((resolve, reject) => {
      const timeout = setTimeout(() => settle(), this.options.connectTimeoutMs ?? 10_000)
      const settle = (err?: TendrilSdkError) => {
        clearTimeout(timeout)
        this.off('connect', onConnect)
        this.off('offline', onOffline)
        if (err) {
          void this.close().finally(() => reject(err))
        } else resolve(this)
      }
      const onConnect = () => settle()
      const onOffline = (err?: TendrilSdkError) => settle(err instanceof AuthError ? err : undefined)
      this.on('connect', onConnect)
      this.on('offline', onOffline)
      this.openConnection()
    })
  }

  // ---- connection ----

  private mqttUrl(): string {
    if (this.options.mqttUrl) return this.options.mqttUrl
    if (this.mqttOnly) return this.options.server
    const url = new URL(this.rest.base)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    url.pathname = url.pathname.replace(/\/+$/, '') + '/mqtt'
    return url.toString()
  }

  private openConnection(): void {
    if (this.closing) return
    const client = mqtt.connect(this.mqttUrl(), {
      username: 'key',
      password: this.options.key,
      clientId: `tendril-sdk-${Math.random().toString(36).slice(2, 12)}`,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0, // reconnection is ours (see the top of this file)
      connectTimeout: this.options.connectTimeoutMs ?? 10_000,
      keepalive: 30,
    })
    this.mqtt = client
    let refusal: TendrilSdkError | undefined
    client.on('connect', () => void this.connectedWith(client))
    client.on('message', (topic, payload) => this.dispatch(topic, payload))
    client.on('error', (err: Error & { code?: unknown }) => {
      if (err.code === 4 || err.code === 5)
        refusal = new AuthError(`the server refused the key (CONNACK ${err.code})`, err.code)
      else refusal ??= new ConnectionError(err.message)
    })
    client.on('close', () => {
      if (client !== this.mqtt) return
      this.disconnected(refusal ?? new ConnectionError('connection closed'))
      client.end(true)
    })
  }

  private async connectedWith(client: MqttClient): Promise<void> {
    if (client !== this.mqtt) return
    try {
      await this.self()
    } catch (err) {
      // without its folder the controller cannot address anything; try again with the next connection
      this.emit('error', err instanceof TendrilSdkError ? err : new ConnectionError(String(err)))
      client.end(true)
      return
    }
    if (client !== this.mqtt) return
    this.connected = true
    this.attempt = 0
    this.cursor = 0 // everything unacknowledged is sent again, oldest first
    this.inFlight.clear()
    this.subscribed.clear()
    this.syncTopics().catch((err: TendrilSdkError) => this.emit('error', err))
    this.startWatchdog()
    this.emit('connect')
    this.pump()
  }

  private disconnected(reason: TendrilSdkError): void {
    const wasConnected = this.connected
    this.connected = false
    clearInterval(this.watchdogTimer)
    this.countRefusals()
    this.inFlight.clear()
    this.wakeSettled()
    this.emit('offline', reason)
    if (reason instanceof AuthError) {
      // the key is wrong or revoked: retrying would only hammer the server
      this.emit('error', reason)
      this.mqtt = null
      return
    }
    if (this.closing) return
    const { minMs = 500, maxMs = 30_000 } = this.options.reconnect ?? {}
    if (wasConnected) this.attempt = 0
    const delay = Math.min(maxMs, minMs * 2 ** this.attempt++) * (0.5 + Math.random() / 2)
    this.reconnectTimer = setTimeout(() => this.openConnection(), delay)
  }

  // MQTT closes the connection on a publish the key may not make [MQTT-3.3.5-2]. A publish to another
  // folder that was in flight at each of several closes is taken as refused and dropped with an error.
  private countRefusals(): void {
    for (const p of this.inFlight) {
      if (!p.foreign) continue
      const first = p.ids[0]!
      const count = (this.refusals.get(first) ?? 0) + 1
      this.refusals.set(first, count)
      if (count < REFUSALS_BEFORE_DROP) continue
      this.refusals.delete(first)
      this.queue.discard(p.ids)
      this.emit('error', new PermissionError(`no write access to /${p.topic}: message dropped after ${count} refusals`))
    }
  }

  private startWatchdog(): void {
    const seconds = this.options.watchdogSeconds ?? 60
    clearInterval(this.watchdogTimer)
    if (seconds <= 0) return
    const beat = () => {
      // QoS 0 and never queued: a heartbeat replayed later would claim the controller was alive then
      if (this.connected && this.mqtt && this.controllerPath)
        this.mqtt.publish(pathToTopic(this.controllerPath), '{"watchdog":{}}', { qos: 0 })
    }
    beat()
    this.watchdogTimer = setInterval(beat, seconds * 1000)
  }

  // ---- sending ----

  private valueItem(path: string, value: SequenceValue, t: string): QueueItem {
    resolvePath('/', path) // syntax only
    if (typeof value === 'number' && !Number.isFinite(value))
      throw new ValidationError(`${path}: ${value} is not a finite number`)
    if (typeof value !== 'number' && typeof value !== 'string' && typeof value !== 'boolean') {
      throw new ValidationError(`${path}: a value must be a number, string or boolean`)
    }
    // values always go to the controller's own folder; an absolute name is resolved and checked by the server
    return { kind: 'value', folder: null, name: path, value: String(value), t }
  }

  private async enqueue(items: QueueItem[]): Promise<void> {
    if (this.closing) throw new ConnectionError('the client is closed')
    await this.queue.append(items)
    this.pump()
  }

  private pump(): void {
    const client = this.mqtt
    const own = this.controllerPath
    if (!this.connected || !client || !own || this.closing) return
    const maxInFlight = this.options.maxInFlight ?? 8
    while (this.inFlight.size < maxInFlight) {
      const entries = this.queue.after(this.cursor, 1000)
      if (entries.length === 0) break
      const { publish, taken } = nextPublish(entries, own, {
        producer: this.queue.producer,
        floor: this.queue.after(0, 1)[0]!.id,
      })
      // A publish to another folder goes alone: if the key may not write there, the server closes
      // the connection, and nothing else should be in flight to be resent (and maybe stored twice).
      if (publish.foreign && this.inFlight.size > 0) break
      if ([...this.inFlight].some((p) => p.foreign)) break
      this.cursor = entries[taken - 1]!.id
      this.queue.protectThrough(this.cursor)
      this.inFlight.add(publish)
      client.publish(publish.topic, publish.payload, { qos: 1 }, (err) => {
        if (client !== this.mqtt || !this.inFlight.delete(publish)) return
        if (err) return this.wakeSettled() // the connection is going; the entries are sent again on the next one
        this.refusals.delete(publish.ids[0]!)
        this.queue.ack(publish.ids)
        this.wakeSettled()
        if (this.queue.size === 0) for (const wake of this.drainWaiters.splice(0)) wake()
        this.pump()
      })
    }
  }

  // ---- receiving ----

  private async register(sub: Registered): Promise<Subscription> {
    this.subscriptions.add(sub)
    const subscription = { unsubscribe: () => this.unregister(sub) }
    if (!this.connected) return subscription // subscribed when the connection comes
    try {
      await this.syncTopics()
    } catch (err) {
      this.subscriptions.delete(sub)
      await this.syncTopics().catch(() => {})
      throw err
    }
    return subscription
  }

  private async unregister(sub: Registered): Promise<void> {
    if (this.subscriptions.delete(sub) && this.connected) await this.syncTopics()
  }

  private folderOf(sub: Registered): string {
    return sub.folder === null ? this.controllerPath! : resolvePath(this.controllerPath!, sub.folder)
  }

  // The topic filters the subscriptions need, without those a "<folder>/#" filter already covers:
  // overlapping MQTT subscriptions would deliver a message once per filter [MQTT-3.3.5-1].
  private wantedTopics(): Set<string> {
    const wanted = new Set<string>()
    for (const sub of this.subscriptions) {
      const topic = pathToTopic(this.folderOf(sub))
      wanted.add(topic)
      if (sub.options.includeChildren) wanted.add(`${topic}/#`)
    }
    const wide = [...wanted].filter((t) => t.endsWith('/#')).map((t) => t.slice(0, -2))
    const covered = (t: string) => wide.some((w) => t !== `${w}/#` && (t === w || t.startsWith(w + '/')))
    return new Set([...wanted].filter((t) => !covered(t)))
  }

  private async syncTopics(): Promise<void> {
    const client = this.mqtt
    if (!client) return
    const wanted = this.wantedTopics()
    const add = [...wanted].filter((t) => !this.subscribed.has(t))
    const remove = [...this.subscribed].filter((t) => !wanted.has(t))
    for (const t of add) this.subscribed.add(t)
    for (const t of remove) this.subscribed.delete(t)
    if (add.length > 0) {
      let granted: { topic: string; qos: number }[]
      try {
        granted = await client.subscribeAsync(add, { qos: 0 })
      } catch (err) {
        for (const t of add) this.subscribed.delete(t)
        // MQTT.js reports a SUBACK 0x80 as an error carrying the packet
        if ((err as { packet?: { granted?: number[] } }).packet?.granted)
          throw new PermissionError(`no read access to /${add.join(', /')}`, 0x80)
        throw new ConnectionError((err as Error).message)
      }
      const refused = granted.filter((g) => g.qos === 0x80).map((g) => g.topic)
      if (refused.length > 0) {
        for (const t of refused) this.subscribed.delete(t)
        throw new PermissionError(`no read access to /${refused.join(', /')}`, 0x80)
      }
    }
    if (remove.length > 0) await client.unsubscribeAsync(remove)
  }

  private dispatch(topic: string, payload: Uint8Array): void {
    const messages = decodeInbound(topic, payload)
    if (messages.length === 0 || !this.controllerPath) return
    // the server's word that a value it was sent is not stored (MQTT has no negative acknowledgement)
    for (const m of messages)
      if (m.type === 'error' && typeof m.parameters.message === 'string')
        this.emit('error', refusalError(m.parameters.message))
    for (const sub of this.subscriptions) {
      const folder = this.folderOf(sub)
      for (const m of messages) if (matches(sub, folder, m)) this.safely(() => sub.handler(m))
    }
  }

  private safely(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.emit('error', new TendrilSdkError(`a message handler threw: ${(err as Error).message}`))
    }
  }

  private emit<E extends keyof ClientEvents>(event: E, ...args: Parameters<ClientEvents[E]>): void {
    for (const listener of [...((this.listeners[event] ?? []) as ((...a: unknown[]) => void)[])]) {
      try {
        listener(...args)
      } catch {
        // a listener's failure must not stop the client
      }
    }
  }

  private async absolute(path: string): Promise<string> {
    return path.startsWith('/') ? resolvePath('/', path) : resolvePath(await this.self(), path)
  }
}

function matches(sub: Registered, folder: string, m: InboundMessage): boolean {
  if (sub.options.type !== undefined && sub.options.type !== m.type) return false
  return m.folder === folder || (!!sub.options.includeChildren && m.folder.startsWith(folder + '/'))
}

function stamp(timestamp: Date | string | undefined): string {
  const date = timestamp === undefined ? new Date() : new Date(timestamp)
  if (Number.isNaN(date.getTime())) throw new ValidationError(`not a timestamp: ${String(timestamp)}`)
  return date.toISOString()
}

function checkMessageType(type: string): void {
  if (
    typeof type !== 'string' ||
    type === '' ||
    type.length > MAX_MESSAGE_TYPE_LENGTH ||
    // eslint-disable-next-line no-control-regex -- control characters are what it looks for
    /[\u0000-\u001f\u007f]/.test(type)
  ) {
    throw new ValidationError(
      `a message type is 1–${MAX_MESSAGE_TYPE_LENGTH} characters without control characters: ${JSON.stringify(type)}`,
    )
  }
}

export { SDK_VERSION }

/** A refused value: an unknown sequence is NotFoundError, anything else (not a number, …) ValidationError. */
function refusalError(message: string): TendrilSdkError {
  return message.startsWith('sequence not found') ? new NotFoundError(message) : new ValidationError(message)
}
