// Aedes writes a QoS 1 PUBACK before it publishes the message (handlers/publish.js: the retained store,
// the queues of persistent sessions in Redis, the relay), so an instance killed in between had
// acknowledged a message that no session got. Tendril publishes it first, as Aedes does for QoS 2,
// and Aedes' own publish after the PUBACK finds it done.
import type { Aedes, Client, PublishPacket } from 'aedes'

type Publish = (packet: PublishPacket, client: Client | null, done: (err?: Error | null) => void) => void

/** Publishes a client's packet now; Aedes' later publish of the same packet object does nothing. */
export function publishFirst(aedes: Aedes): (client: Client, packet: PublishPacket) => Promise<void> {
  const done = new WeakSet<PublishPacket>()
  const broker = aedes as unknown as { publish: Publish }
  const publish = broker.publish.bind(aedes)
  broker.publish = (packet, client, callback) => {
    if (!done.delete(packet)) return publish(packet, client, callback)
    callback?.(null)
  }
  return (client, packet) =>
    new Promise((resolve, reject) =>
      publish(packet, client, (err) => {
        if (err) return reject(err)
        done.add(packet)
        resolve()
      }),
    )
}
