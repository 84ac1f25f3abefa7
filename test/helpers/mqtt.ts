// MQTT.js clients for tests, and a raw CONNECT for what MQTT.js will not send.
import net from 'node:net'
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt'
import mqttPacket from 'mqtt-packet'

const clients: MqttClient[] = []

export function connect(url: string, key: string, options: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      username: 'key',
      password: key,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    })
    clients.push(client)
    client.once('connect', () => resolve(client))
    client.once('error', (err) => reject(err))
  })
}

/** The CONNACK return code a connection attempt is refused with. */
export async function refusalCode(url: string, key: string, options: IClientOptions = {}): Promise<number | undefined> {
  try {
    const client = await connect(url, key, options)
    client.end(true)
    return 0
  } catch (err) {
    return (err as { code?: number }).code
  }
}

/** Sends one CONNECT packet over TCP and returns the CONNACK return code. */
export function rawConnackCode(
  url: string,
  key: string,
  connect: { clientId: string; clean: boolean },
): Promise<number> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname)
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (packet) => {
      socket.destroy()
      if (packet.cmd === 'connack') resolve(packet.returnCode!)
      else reject(new Error(`expected CONNACK, got ${packet.cmd}`))
    })
    socket.on('data', (data) => parser.parse(data))
    socket.on('error', reject)
    // mqtt-packet refuses to encode an empty id without a clean session, so the flag is set by hand
    const bytes = mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      keepalive: 30,
      username: 'key',
      password: Buffer.from(key),
      clientId: connect.clientId,
      clean: true,
    })
    let flags = 1
    while (bytes[flags]! & 0x80) flags++ // skip the remaining-length varint
    flags += 1 + 6 + 1 // its last byte, protocol name "MQTT" with its length, protocol level
    if (!connect.clean) bytes[flags] = bytes[flags]! & ~0x02
    socket.write(bytes)
  })
}

export function granted(client: MqttClient, filter: string, qos: 0 | 1 = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    client.subscribe(filter, { qos }, (err, grants) => {
      // MQTT.js reports a SUBACK failure (0x80) as an error that carries the packet
      const refused = (err as { packet?: { granted?: number[] } } | null)?.packet?.granted?.[0]
      if (refused !== undefined) return resolve(refused)
      return err ? reject(err) : resolve(grants![0]!.qos)
    })
  })
}

export function nextMessage(client: MqttClient, ms = 2000): Promise<{ topic: string; payload: string } | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage)
      resolve(null)
    }, ms)
    const onMessage = (topic: string, payload: Buffer) => {
      clearTimeout(timer)
      client.off('message', onMessage)
      resolve({ topic, payload: payload.toString() })
    }
    client.on('message', onMessage)
  })
}

/** Every message the client receives during the next ms. */
export function collect(client: MqttClient, ms: number): Promise<{ topic: string; payload: string }[]> {
  const received: { topic: string; payload: string }[] = []
  const onMessage = (topic: string, payload: Buffer) => received.push({ topic, payload: payload.toString() })
  client.on('message', onMessage)
  return new Promise((resolve) =>
    setTimeout(() => {
      client.off('message', onMessage)
      resolve(received)
    }, ms),
  )
}

/**
 * Publishes a probe to topic every 100 ms until subscriber has received none for quietMs, and
 * answers when the last one arrived (ms since the epoch; the start if none did). Throws if the
 * probes still arrive after deadlineMs.
 */
export async function deliveryStops(
  subscriber: MqttClient,
  publisher: MqttClient,
  topic: string,
  deadlineMs = 6000,
  quietMs = 700,
): Promise<number> {
  const started = Date.now()
  let last = started
  const onMessage = (received: string) => {
    if (received === topic) last = Date.now()
  }
  subscriber.on('message', onMessage)
  try {
    for (let n = 0; Date.now() - last < quietMs; n++) {
      if (Date.now() - started > deadlineMs) throw new Error(`messages on ${topic} still arrive after ${deadlineMs} ms`)
      publisher.publish(topic, `probe ${n}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return last
  } finally {
    subscriber.off('message', onMessage)
  }
}

export function closed(client: MqttClient, ms = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    if (!client.connected) return resolve(true)
    const timer = setTimeout(() => resolve(false), ms)
    client.once('close', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** Ends every client connect() made. */
export function endAll(): void {
  for (const client of clients.splice(0)) client.end(true)
}

/** A bare MQTT 3.1.1 connection for packets MQTT.js would not send as a test needs them (e.g. a DUP resend). */
export async function rawSession(url: string, key: string, clientId: string, keepalive = 30) {
  const { hostname, port } = new URL(url)
  const socket = net.connect(Number(port), hostname)
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const inbox: mqttPacket.Packet[] = []
  const waiters: (() => void)[] = []
  parser.on('packet', (packet) => {
    inbox.push(packet)
    waiters.splice(0).forEach((wake) => wake())
  })
  socket.on('data', (data) => parser.parse(data))
  const next = async (cmd: string, ms = 3000): Promise<mqttPacket.Packet> => {
    const deadline = Date.now() + ms
    for (;;) {
      const at = inbox.findIndex((p) => p.cmd === cmd)
      if (at !== -1) return inbox.splice(at, 1)[0]!
      if (Date.now() > deadline) throw new Error(`no ${cmd} within ${ms} ms`)
      await new Promise<void>((resolve) => {
        waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
  }
  const send = (packet: mqttPacket.Packet) => socket.write(mqttPacket.generate(packet))
  /** in one write, so that the broker reads them in one chunk (Aedes handles a chunk's packets concurrently) */
  const sendTogether = (...packets: mqttPacket.Packet[]) =>
    socket.write(Buffer.concat(packets.map((p) => mqttPacket.generate(p))))
  send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    keepalive,
    clean: false,
    clientId,
    username: 'key',
    password: Buffer.from(key),
  })
  await next('connack')
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return { send, sendTogether, next, close: () => socket.destroy(), closed: () => closed }
}
