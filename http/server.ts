// Listening and graceful shutdown: stop accepting, let requests in flight finish, then close.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { Server as NetServer, type AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Core } from '../core/index.ts'
import { readTlsFiles, type SecureServer } from '../core/tls.ts'
import { appParts, createApp, type AppDependencies } from './app.ts'
import { timeRequests } from './metrics.ts'
import { withValueLane } from './value-lane.ts'

/** A TLS handshake that has not finished by then is dropped (node's default waits two minutes). */
const HANDSHAKE_TIMEOUT_MS = 10_000
/**
 * Headers not complete by then get a 408 and the connection closed (slowloris); node waits 60 s, checked every 30 s.
 */
/**
 * How long a draining server still answers keep-alive connections (with Connection: close) before
 * closing idle ones; longer for a worker of --workers, whose clients the other workers serve meanwhile.
 */
const IDLE_GRACE_MS = { alone: 500, worker: 2000 }
const TIMEOUTS = { headersTimeout: 10_000, connectionsCheckingInterval: 1000 }

/** Claims an upgrade request (WebSocket) for its path, or returns false to let the next one try. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean

export interface HttpServer {
  /** node:http's server, or node:https' with --tls-cert (the same interface for everything here) */
  http: Server
  /** set when serving HTTPS: takes a renewed certificate */
  secure?: SecureServer
  /** resolves to the bound port (useful with port 0) */
  listen(port: number, host: string): Promise<number>
  close(): Promise<void>
}

export function createHttpServer(core: Core, deps: AppDependencies, upgrades: UpgradeHandler[] = []): HttpServer {
  const parts = appParts(core)
  const handler = timeRequests(core, withValueLane(core, deps.bus, parts, createApp(core, deps, parts)))
  const tls = core.config.tls
  // https.Server is an http.Server that speaks TLS first; its types do not say so
  const http = tls
    ? (createHttpsServer(
        { ...readTlsFiles(tls), ...TIMEOUTS, handshakeTimeout: HANDSHAKE_TIMEOUT_MS },
        handler,
      ) as unknown as Server)
    : createServer(TIMEOUTS, handler)
  http.keepAliveTimeout = 65_000 // longer than common load balancers' idle timeout, so they close first
  http.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy())
    if (!upgrades.some((handle) => handle(req, socket, head))) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
    }
  })
  return {
    http,
    ...(tls ? { secure: http as unknown as SecureServer } : {}),
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
        // stops accepting; http.Server's own close would also close idle keep-alive connections at
        // once, while their clients may be sending a request (a rolling restart's would see resets).
        // Instead each is told to go with its next answer, and those still idle are closed a moment later.
        NetServer.prototype.close.call(http, () => {
          clearTimeout(force)
          resolve()
        })
        http.prependListener('request', (_req: unknown, res: { headersSent: boolean; shouldKeepAlive: boolean }) => {
          if (!res.headersSent) res.shouldKeepAlive = false
        })
        const grace = core.config.workers > 1 ? IDLE_GRACE_MS.worker : IDLE_GRACE_MS.alone
        setTimeout(() => http.closeIdleConnections(), Math.min(grace, core.config.shutdownTimeoutMs / 2)).unref()
      })
    },
  }
}
