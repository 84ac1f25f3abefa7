// The Express app, built without listening (tests and `serve` attach to it the same way).
import express from 'express'
import helmet from 'helmet'
import type { Core } from '../core/index.ts'
import type { MessageBus } from '../core/messages/send.ts'
import { version } from '../core/version.ts'
import { authenticate } from './auth.ts'
import { errorHandler, notFoundHandler } from './errors.ts'
import { messageRoutes } from './routes/messages.ts'
import { mqttInfoRoutes } from './routes/mqtt-info.ts'
import { sessionRoutes } from './routes/sessions.ts'
import { sequencePathRoutes } from './routes/sequence-paths.ts'
import { sequenceValueRoutes } from './routes/sequences.ts'

export interface AppDependencies {
  /** delivers messages sent through REST to the broker's subscribers */
  bus: MessageBus
}

export function createApp(core: Core, deps: AppDependencies): express.Express {
  const app = express()
  app.disable('x-powered-by')
  app.set('trust proxy', 'loopback') // a local reverse proxy (nginx, caddy) may terminate TLS
  app.use(helmet())

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', version })
  })

  app.use(express.urlencoded({ extended: false, limit: '1mb' }), express.json({ limit: '1mb' }))
  app.use(authenticate(core))
  app.use(sessionRoutes(core))
  app.use(mqttInfoRoutes(core))
  app.use(messageRoutes(core, deps.bus))
  app.use(sequenceValueRoutes(core, deps.bus))
  app.use(sequencePathRoutes(core, deps.bus)) // temporary: replaced by the resources router at merge

  app.use(notFoundHandler)
  app.use(errorHandler(core.log))
  return app
}
