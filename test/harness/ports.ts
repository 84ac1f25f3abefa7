import net from 'node:net'

/** Asks the kernel for an unused loopback port. Racy by nature: callers retry if the bind later fails. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = addr !== null && typeof addr === 'object' ? addr.port : 0
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('freePort: no port assigned'))))
    })
  })
}
