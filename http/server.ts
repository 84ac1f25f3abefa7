// Listening and graceful shutdown: stop accepting, let requests in flight finish, then close.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Core } from '../core/index.ts'
import { appParts, createApp, type AppDependencies } from './app.ts'
import { withValueLane } from './value-lane.ts'

/** Claims an upgrade request (WebSocket) for its path, or returns false to let the next one try. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean

export interface HttpServer {
  http: Server
  /** resolves to the bound port (useful with port 0) */
  listen(port: number, host: string): Promise<number>
  close(): Promise<void>
}

export function createHttpServer(core: Core, deps: AppDependencies, upgrades: UpgradeHandler[] = []): HttpServer {
  const parts = appParts(core)
  const http = createServer(withValueLane(core, deps.bus, parts, createApp(core, deps, parts)))
  http.keepAliveTimeout = 65_000 // longer than common load balancers' idle timeout, so they close first
  http.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy())
    if (!upgrades.some((handle) => handle(req, socket, head))) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
    }
  })
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
