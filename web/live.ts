// The page's one live connection: MQTT over WebSocket on /mqtt, opened with a short-lived token from
// /api/v1/mqtt-info (a fresh one for every reconnect, so an old token is never reused), with MQTT.js
// loaded as a chunk of its own after the first paint. Pages follow topics; the connection is shared.
import { signal } from '@preact/signals'
import type { MqttClient } from 'mqtt'
import { api, messageOf, session } from './api.ts'

export type LiveState = 'off' | 'connecting' | 'live' | 'offline'
export const liveState = signal<LiveState>('off')

export type LiveHandler = (topic: string, payload: string) => void

interface MqttInfo {
  path: string
  protocol: 'ws' | 'wss'
  token: string
  clientId: string
  /** a token for an anonymous viewer: what a request without a (live) session gets */
  anonymous?: boolean
}

const followers = new Map<string, Set<LiveHandler>>()
let client: MqttClient | undefined
let wanted = false
let retry: ReturnType<typeof setTimeout> | undefined
let failures = 0

/** MQTT's topic matching: "+" one level, "#" the rest. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false
  }
  return f.length === t.length
}

/** Calls handler for each message on these topic filters until the returned function is called. */
export function follow(filters: string[], handler: LiveHandler): () => void {
  for (const filter of filters) {
    const set = followers.get(filter) ?? followers.set(filter, new Set()).get(filter)!
    set.add(handler)
    if (set.size === 1 && client?.connected) client.subscribe(filter, { qos: 0 })
  }
  start()
  return () => {
    for (const filter of filters) {
      const set = followers.get(filter)
      set?.delete(handler)
      if (set && set.size === 0) {
        followers.delete(filter)
        // later, and only if no page followed it again meanwhile: an UNSUBSCRIBE sent right before a
        // SUBSCRIBE of the same filter can be handled after it by the broker, leaving nothing subscribed
        setTimeout(() => !followers.has(filter) && client?.connected && client.unsubscribe(filter), 0)
      }
    }
  }
}

function start(): void {
  wanted = true
  // (peek: a page's effect calling follow must not re-run whenever the connection's state changes)
  if (client || retry || liveState.peek() === 'connecting') return
  void connect()
}

/** Closes the connection (signing out) and forgets what was followed. */
export function stopLive(): void {
  wanted = false
  clearTimeout(retry)
  retry = undefined
  followers.clear()
  client?.end(true)
  client = undefined
  liveState.value = 'off'
}

async function connect(): Promise<void> {
  liveState.value = 'connecting'
  let info: MqttInfo
  let mqtt: typeof import('mqtt')
  try {
    let loaded: typeof import('mqtt')
    ;[info, loaded] = await Promise.all([
      session.peek() ? api<MqttInfo>('/api/v1/mqtt-info') : viewerInfo(),
      import('mqtt'),
    ])
    const fallback = (loaded as unknown as { default?: typeof import('mqtt') }).default
    mqtt = typeof loaded.connect === 'function' ? loaded : fallback! // the browser build exports only a default
  } catch {
    return reconnectLater()
  }
  if (!wanted) return void (liveState.value = 'off')
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${info.path}`
  const c = mqtt.connect(url, {
    username: 'token',
    password: info.token,
    clientId: info.clientId,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    keepalive: 30,
    connectTimeout: 10_000,
    timerVariant: 'native',
  })
  client = c
  c.on('connect', () => {
    failures = 0
    const filters = [...followers.keys()]
    // "Live" once the broker has the subscriptions: what is published after that reaches the page
    if (filters.length > 0)
      c.subscribe(filters, { qos: 0 }, () => client === c && c.connected && (liveState.value = 'live'))
    else liveState.value = 'live'
  })
  c.on('message', (topic, payload) => {
    const text = new TextDecoder().decode(payload)
    for (const [filter, handlers] of followers)
      if (topicMatches(filter, topic)) for (const handler of handlers) handler(topic, text)
  })
  c.on('error', () => {}) // a close follows, and with it the reconnect
  c.on('close', () => {
    if (client !== c) return
    client = undefined
    c.end(true)
    reconnectLater()
  })
}

/** Signed out (a public page): a viewer's token, asked for without the cookie a lapsed session may have left. */
async function viewerInfo(): Promise<MqttInfo> {
  const res = await fetch('/api/v1/mqtt-info', { credentials: 'omit', headers: { accept: 'application/json' } })
  if (!res.ok) throw new Error(await messageOf(res))
  return (await res.json()) as MqttInfo
}

function reconnectLater(): void {
  if (!wanted) return void (liveState.value = 'off')
  liveState.value = 'offline'
  const delay = Math.min(30_000, 1000 * 2 ** failures++)
  retry = setTimeout(() => {
    retry = undefined
    void connect()
  }, delay)
}
