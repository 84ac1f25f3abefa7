// A logical database of the run's shared Redis for one test file, so test files do not hear each other.
import net from 'node:net'
import { sharedRedis } from '../harness/redis.ts'

/** An emptied logical database: a counter in database 0 hands them out, so test files do not hear each other. */
export async function freshRedisDatabase(): Promise<string> {
  const { url } = await sharedRedis()
  const handedOut = Number(await redisCommand(url, ['INCR', 'tendril-test:databases']))
  const database = `${url}/${1 + ((handedOut - 1) % 15)}`
  await redisCommand(database, ['FLUSHDB'])
  return database
}

/** One command over RESP, in the URL's database; the reply's first line. */
export function redisCommand(url: string, command: string[]): Promise<string> {
  const { hostname, port, pathname } = new URL(url)
  const encode = (parts: string[]) =>
    `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`
  const commands = pathname.length > 1 ? [['SELECT', pathname.slice(1)], command] : [command]
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname)
    let received = ''
    socket.on('error', reject)
    socket.on('data', (data) => {
      received += data.toString()
      const replies = received.split('\r\n').slice(0, -1)
      if (replies.length < commands.length) return
      socket.destroy()
      const failed = replies.find((reply) => reply.startsWith('-'))
      if (failed) reject(new Error(`redis: ${failed.slice(1)}`))
      else resolve(replies.at(-1)!.slice(1))
    })
    socket.write(commands.map(encode).join(''))
  })
}

/**
 * Everything published on the broker's channels of the URL's database (`tendril:mqtt:<db>/…`) from now
 * on, as raw text: how a test sees which messages went through Redis.
 */
export async function watchBrokerChannels(url: string): Promise<{ seen(): string; close(): void }> {
  const { hostname, port, pathname } = new URL(url)
  const pattern = `tendril:mqtt:${pathname.slice(1) || '0'}/*`
  const socket = net.connect(Number(port), hostname)
  let received = ''
  socket.on('data', (data) => (received += data.toString('latin1')))
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.write(`*2\r\n$10\r\nPSUBSCRIBE\r\n$${pattern.length}\r\n${pattern}\r\n`, () => resolve())
  })
  const confirmed = Date.now()
  while (!received.includes('psubscribe') && Date.now() - confirmed < 5000) await new Promise((r) => setTimeout(r, 10))
  return { seen: () => received, close: () => socket.destroy() }
}
