// The broker's live figures for /metrics and $SYS: connections and socket bytes by transport,
// counted per connection (open and close), never per packet.
import type { Duplex } from 'node:stream'
import type { Aedes } from 'aedes'
import type { Metrics } from '../core/metrics.ts'

export type Transport = 'tcp' | 'ws' | 'json-ws'
const TRANSPORTS: Transport[] = ['tcp', 'ws', 'json-ws']

interface Tally {
  open: number
  /** bytes of the connections closed so far; live ones are read off their sockets */
  closedRead: number
  closedWritten: number
  live: Set<{ bytesRead: number; bytesWritten: number }>
}

export interface ConnectionMetrics {
  /** counts a raw socket (net or TLS) until it closes */
  track(socket: Duplex, transport: Transport): void
  connections(transport?: Transport): number
  bytesReceived(transport?: Transport): number
  bytesSent(transport?: Transport): number
}

export function createConnectionMetrics(metrics: Metrics, aedes: Aedes): ConnectionMetrics {
  const tallies = Object.fromEntries(
    TRANSPORTS.map((t) => [t, { open: 0, closedRead: 0, closedWritten: 0, live: new Set() } satisfies Tally]),
  ) as Record<Transport, Tally>
  const sum = (read: (t: Tally) => number, transport?: Transport) =>
    transport ? read(tallies[transport]) : TRANSPORTS.reduce((n, t) => n + read(tallies[t]), 0)
  const received = (t: Tally) => t.closedRead + [...t.live].reduce((n, s) => n + s.bytesRead, 0)
  const sent = (t: Tally) => t.closedWritten + [...t.live].reduce((n, s) => n + s.bytesWritten, 0)
  const self: ConnectionMetrics = {
    track(socket, transport) {
      const tally = tallies[transport]
      const counted = socket as unknown as { bytesRead: number; bytesWritten: number }
      if (typeof counted.bytesRead !== 'number') return
      tally.open++
      tally.live.add(counted)
      socket.once('close', () => {
        tally.open--
        tally.live.delete(counted)
        tally.closedRead += counted.bytesRead
        tally.closedWritten += counted.bytesWritten
      })
    },
    connections: (transport) => sum((t) => t.open, transport),
    bytesReceived: (transport) => sum(received, transport),
    bytesSent: (transport) => sum(sent, transport),
  }
  const byTransport = (read: (t: Transport) => number) => Object.fromEntries(TRANSPORTS.map((t) => [t, () => read(t)]))
  metrics.gauge(
    'tendril_connections',
    'open MQTT (tcp, ws) and JSON websocket (json-ws) connections',
    'transport',
    byTransport(self.connections),
  )
  metrics.counter(
    'tendril_connection_bytes_received_total',
    'bytes received on those connections (framing included)',
    'transport',
    byTransport(self.bytesReceived),
  )
  metrics.counter(
    'tendril_connection_bytes_sent_total',
    'bytes sent on those connections (framing included)',
    'transport',
    byTransport(self.bytesSent),
  )
  metrics.gauge('tendril_mqtt_clients', 'MQTT clients connected (authenticated)', 'state', {
    connected: () => aedes.connectedClients,
  })
  return self
}
