// A log line for every connection the broker closes for what its client sent or failed to send
// (malformed packet, CONNECT late or missing, keepalive or drain timeout, a packet only a server sends).
import type { Aedes, Client } from 'aedes'
import type { Logger } from '../core/log.ts'

/** Packets only a server sends: Aedes closes a connected client that sends one, without an error. */
const SERVER_ONLY = new Set(['connack', 'suback', 'unsuback', 'pingresp'])
/** a reason may quote a client's topic, which may be 64 KB long: a line stays short */
const MAX_REASON = 200

export function logClosings(aedes: Aedes, log: Logger): void {
  const logged = new WeakSet<Client>() // a closing connection may report several errors: one line
  const closed = (client: Client | null, err: Error & { code?: string; returnCode?: number }) => {
    // a dropped socket (ECONNRESET, EPIPE …) is the network's doing; an authentication refusal logged its own line
    const network = err.code !== undefined && !err.code.startsWith('WS_ERR')
    if (network || err.returnCode !== undefined) {
      return log.debug({ clientId: client?.id, err: err.message }, 'mqtt connection error')
    }
    if (client && logged.has(client)) return
    if (client) logged.add(client)
    log.info(
      { clientId: client?.id, remote: remoteOf(client), reason: err.message.slice(0, MAX_REASON) },
      'mqtt connection closed',
    )
  }
  aedes.on('clientError', closed)
  aedes.on('connectionError', closed)
}

/** Logs the packets Aedes drops a connected client for without a word (aedes lib/handlers/index.js). */
export function logUnexpectedPackets(client: Client, log: Logger): void {
  const parser = (client as unknown as { _parser?: NodeJS.EventEmitter })._parser
  parser?.on('packet', (packet: { cmd: string }) => {
    if (!SERVER_ONLY.has(packet.cmd) || !client.connected) return
    log.info(
      { clientId: client.id, remote: remoteOf(client), reason: `a ${packet.cmd} packet from a client` },
      'mqtt connection closed',
    )
  })
}

function remoteOf(client: Client | null): string | undefined {
  const conn = client?.conn as { remoteAddress?: string; remotePort?: number } | undefined
  return conn?.remoteAddress === undefined ? undefined : `${conn.remoteAddress}:${conn.remotePort}`
}
