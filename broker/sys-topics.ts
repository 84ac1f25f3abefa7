// Mosquitto's $SYS topics (https://mosquitto.org/man/mosquitto-8.html, "Broker Status"): retained,
// every --sys-interval seconds, each published only when its value changed (uptime always). Only
// system admins may subscribe to $SYS (acl.ts); publishing there is refused to everyone.
import type { Aedes, PublishPacket } from 'aedes'
import type { Core } from '../core/index.ts'
import { version } from '../core/version.ts'
import type { ConnectionMetrics } from './metrics.ts'

/**
 * With several instances (--redis) each has its own figures, so each publishes under its id (EMQX's
 * $SYS/brokers/<node>/…).
 */
export function sysPrefix(core: Core, brokerName: string | undefined): string {
  return core.config.redis && brokerName ? `$SYS/brokers/${brokerName}` : '$SYS/broker'
}

export function startSysTopics(core: Core, aedes: Aedes, connections: ConnectionMetrics, prefix: string): () => void {
  const interval = core.config.sysIntervalS
  if (interval === 0) return () => {}
  const started = Date.now()
  const f = core.metrics.figures
  let maximum = 0
  const figures = (): Record<string, string | number> => {
    maximum = Math.max(maximum, aedes.connectedClients)
    return {
      version: `tendril version ${version}`,
      uptime: `${Math.floor((Date.now() - started) / 1000)} seconds`,
      'clients/connected': aedes.connectedClients,
      'clients/active': aedes.connectedClients,
      'clients/maximum': maximum,
      'messages/received': f.publishReceived,
      'messages/sent': f.publishSent,
      'publish/messages/received': f.publishReceived,
      'publish/messages/sent': f.publishSent,
      'publish/messages/dropped': f.offlineDropped,
      'bytes/received': connections.bytesReceived(),
      'bytes/sent': connections.bytesSent(),
    }
  }
  const last = new Map<string, string>()
  const publish = () => {
    for (const [name, value] of Object.entries(figures())) {
      const text = String(value)
      if (last.get(name) === text) continue
      last.set(name, text)
      const packet = {
        cmd: 'publish',
        topic: `${prefix}/${name}`,
        payload: Buffer.from(text),
        qos: 0,
        retain: true,
        dup: false,
      } as PublishPacket
      aedes.publish(packet, (err) => err && core.log.warn({ err, topic: packet.topic }, '$SYS topic not published'))
    }
  }
  publish()
  const timer = setInterval(publish, interval * 1000)
  timer.unref()
  return () => clearInterval(timer)
}
