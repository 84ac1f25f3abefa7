// Packets the server sends one client in answer to its own publish (a refused value): delivered to
// it alone whatever it subscribed to. Aedes copies a packet before authorizeForward sees it but
// keeps its payload buffer, so the payload is what marks it.
const replies = new WeakSet<Buffer>()

export function markReply(payload: Buffer): Buffer {
  replies.add(payload)
  return payload
}

export const isReply = (packet: { payload: unknown }) => Buffer.isBuffer(packet.payload) && replies.has(packet.payload)
