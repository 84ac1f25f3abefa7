// The Express app, built without listening (tests and `serve` attach to it the same way).
import express from 'express'
import helmet from 'helmet'
import { memoryThrottles, type Throttles } from '../core/accounts/throttle.ts'
import type { Core } from '../core/index.ts'
import type { MessageBus } from '../core/messages/types.ts'
import { version } from '../core/version.ts'
import { identify, limitBody, requireCsrf, withCredentials } from './auth.ts'
import { metricsHandler } from './metrics.ts'
import { errorHandler, notFoundHandler } from './errors.ts'
import { answerOnceOnDisk } from './on-disk.ts'
import { openApiRoutes } from './openapi.ts'
import { refuseNul } from './request-values.ts'
import { keyRoutes } from './routes/keys.ts'
import { messageRoutes } from './routes/messages.ts'
import { mqttInfoRoutes } from './routes/mqtt-info.ts'
import { organizationRoutes } from './routes/organizations.ts'
import { pinEntryRoutes, pinRequestRoutes } from './routes/pins.ts'
import { resourceRoutes } from './routes/resources.ts'
import { encodedBodyLimit } from './routes/resources/params.ts'
import { isMultipart } from './routes/resources/uploads.ts'
import { signInRoutes, signOutRoutes } from './routes/sessions.ts'
import { systemRoutes } from './routes/system.ts'
import { userRoutes } from './routes/users.ts'
import { webUiRoutes } from './web-ui.ts'

export interface AppDependencies {
  /** delivers messages sent through REST to the broker's subscribers */
  bus: MessageBus
  /** where rate limits count attempts: shared with the other instances through Redis, or this process's own */
  throttles?: Throttles
}

/** What the app shares with the value lane (http/value-lane.ts), so that both answer alike. */
export interface AppParts {
  securityHeaders: express.RequestHandler
  /** form and JSON parsers for /api/v1/resources, for callers with credentials (a key or a session) */
  resourceBodyParsers: express.RequestHandler[]
}

/** JSON and form bodies everywhere but the resources API, and there for callers without credentials */
const SMALL_BODY_LIMIT = 1024 * 1024

export function appParts(core: Core): AppParts {
  // the resources API takes base64 uploads in JSON and form bodies, up to the upload limit; multipart
  // bodies are not parsed here but streamed by the routes themselves (http/routes/resources/uploads.ts)
  const encodedLimit = encodedBodyLimit(core.config.uploadLimit)
  return {
    securityHeaders: helmet({
      contentSecurityPolicy: {
        directives: {
          // the web UI loads nothing from elsewhere (no CDN, no web fonts) and styles only from its own files
          'style-src': ["'self'"],
          'font-src': ["'self'"],
          'img-src': ["'self'", 'data:', 'blob:'],
          // 'self' covers the same origin's ws:/wss: (the UI's MQTT on /mqtt)
          'connect-src': ["'self'"],
          // a server on a LAN address often has no certificate: upgrading its requests would break every page
          'upgrade-insecure-requests': null,
        },
      },
    }),
    resourceBodyParsers: [
      express.urlencoded({ extended: false, limit: encodedLimit }),
      express.json({ limit: encodedLimit }),
    ],
  }
}

/** The declared body length a caller with credentials may send to this request's route. */
function bodyLimitOf(core: Core) {
  const encodedLimit = encodedBodyLimit(core.config.uploadLimit)
  return (req: express.Request) => {
    if (req.path !== '/api/v1/resources' && !req.path.startsWith('/api/v1/resources/')) return SMALL_BODY_LIMIT
    // a multipart upload checks its declared length against the upload limit as it starts (uploads.ts)
    return isMultipart(req) ? Infinity : encodedLimit
  }
}

export function createApp(core: Core, deps: AppDependencies, parts = appParts(core)): express.Express {
  const app = express()
  const throttles = deps.throttles ?? memoryThrottles()
  app.disable('x-powered-by')
  // a reverse proxy (nginx, caddy, a load balancer) may terminate TLS and speak for the client (--trust-proxy)
  app.set('trust proxy', core.config.trustProxy)
  app.use(parts.securityHeaders)
  app.use(answerOnceOnDisk(core))

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', version })
  })
  app.use(openApiRoutes(core))
  // before credentials are read: a scraper's bearer token is no API key
  if (core.config.metrics.enabled && core.config.metrics.port === undefined) app.get('/metrics', metricsHandler(core))
  // the browser UI's bundles and its pages' shell (a GET for HTML of any path but the API's)
  app.use(webUiRoutes())

  // the only routes that take no credentials, and so never refuse a caller for the ones it sent
  // (rhizo's client asks for a PIN with the placeholder key "x"); their bodies are a few bytes
  app.use(pinRequestRoutes(core, throttles))
  // credentials come first, from the headers alone: a bad key, or a body larger than the caller may
  // send, is refused before any of it is read
  app.use(identify(core))
  app.use(limitBody(bodyLimitOf(core)))
  // every route but the resources API keeps small bodies; a body parsed once is not parsed again
  app.use('/api/v1/resources', ...withCredentials(parts.resourceBodyParsers))
  app.use(express.urlencoded({ extended: false, limit: SMALL_BODY_LIMIT }), express.json({ limit: SMALL_BODY_LIMIT }))
  app.use(refuseNul)
  // signing in needs no CSRF token of a session the browser may still hold (it checks the origin instead)
  app.use(signInRoutes(core, throttles))
  app.use(requireCsrf)
  app.use(signOutRoutes(core))
  app.use(mqttInfoRoutes(core))
  app.use(messageRoutes(core, deps.bus))
  app.use(keyRoutes(core))
  app.use(organizationRoutes(core))
  app.use(userRoutes(core, throttles))
  app.use(pinEntryRoutes(core, throttles))
  app.use(systemRoutes(core))
  app.use(resourceRoutes(core, deps.bus))

  app.use(notFoundHandler)
  app.use(errorHandler(core.log))
  return app
}
