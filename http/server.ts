// Listening and graceful shutdown: stop accepting, let requests in flight finish, then close.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Core } from '../core/index.ts'
import { createApp } from './app.ts'

export interface TendrilServer {
  http: Server
  /** resolves to the bound port (useful with port 0) */
  listen(port: number, host: string): Promise<number>
  close(): Promise<void>
}

export function createTendrilServer(core: Core): TendrilServer {
  const http = createServer(createApp(core))
  http.keepAliveTimeout = 65_000 // longer than common load balancers' idle timeout, so they close first
  return {
    http,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        http.once('error', reject)
        http.listen(port, host, () => {
          http.off('error', reject)
          resolve((http.address() as AddressInfo).port)
        })
      })
    },
    close() {
      return new Promise((resolve) => {
        // leave a second of the shutdown budget for closing the database after the drain
        const force = setTimeout(() => http.closeAllConnections(), Math.max(100, core.config.shutdownTimeoutMs - 1000))
        force.unref()
        http.close(() => {
          clearTimeout(force)
          resolve()
        })
        http.closeIdleConnections()
      })
    },
  }
}
