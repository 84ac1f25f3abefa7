// Prometheus metrics (--metrics): GET /metrics on the HTTP port or on a port of its own
// (--metrics-port), behind an optional bearer token (--metrics-token); and the time of every HTTP
// request, labelled by its route pattern (never the raw path: one series per route, not per resource).
import { timingSafeEqual, createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import cluster from 'node:cluster'
import type { Core } from '../core/index.ts'
import { metricsOfAllWorkers } from './cluster-metrics.ts'
import { errorBody } from './errors.ts'

const sha256 = (text: string) => createHash('sha256').update(text).digest()

/** Answers GET /metrics, or 401 without the token when one is set. */
export function metricsHandler(core: Core): (req: IncomingMessage, res: ServerResponse) => void {
  const { token } = core.config.metrics
  const expected = token ? sha256(`Bearer ${token}`) : undefined
  core.metrics.collectProcessMetrics()
  const { registry } = core.metrics
  // a worker of `serve --workers` answers for every worker, whichever one the scrape landed on
  const collect = cluster.isWorker ? metricsOfAllWorkers(registry) : () => registry.metrics()
  return (req, res) => {
    // hashed first, so the comparison takes the same time whatever the length sent
    if (expected && !timingSafeEqual(sha256(req.headers.authorization ?? ''), expected)) {
      res.writeHead(401, {
        'content-type': 'application/json; charset=utf-8',
        'www-authenticate': 'Bearer realm="metrics"',
      })
      return void res.end(
        JSON.stringify(
          errorBody('unauthorized', '/metrics needs the token of --metrics-token (Authorization: Bearer …)'),
        ),
      )
    }
    collect().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType })
        res.end(text)
      },
      (err: Error) => {
        core.log.error({ err }, 'metrics not collected')
        res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' })
        res.end(JSON.stringify(errorBody('internal', 'metrics not collected')))
      },
    )
  }
}

/** The pattern of the route that answered (`/api/v1/resources/*path`), or a fixed name for what no route answered. */
function routeOf(req: IncomingMessage, status: number): string {
  const matched = req as IncomingMessage & { route?: { path?: unknown }; baseUrl?: string }
  if (typeof matched.route?.path === 'string') return (matched.baseUrl ?? '') + matched.route.path
  const url = req.url ?? ''
  // the value lane (value-lane.ts) answers before Express, for the resources route
  if (url.startsWith('/api/v1/resources/')) return '/api/v1/resources/*path'
  if (url.startsWith('/api/')) return status === 404 ? '(no route)' : '/api/(other)'
  return '(web ui)'
}

/** Times each request to its last byte, by route, method and status. */
export function timeRequests(core: Core, handler: RequestListener): RequestListener {
  if (!core.config.metrics.enabled) return handler
  return (req, res) => {
    const started = performance.now()
    res.once('finish', () =>
      core.metrics.observeHttp(
        routeOf(req, res.statusCode),
        req.method ?? '',
        res.statusCode,
        (performance.now() - started) / 1000,
      ),
    )
    handler(req, res)
  }
}

/** /metrics alone on --metrics-port. */
export function createMetricsServer(core: Core): {
  listen(port: number, host: string): Promise<number>
  close(): Promise<void>
} {
  const answer = metricsHandler(core)
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && new URL(req.url ?? '/', 'http://x').pathname === '/metrics') return answer(req, res)
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' })
    res.end(JSON.stringify(errorBody('not_found', 'only /metrics is served here')))
  })
  return {
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port))
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
