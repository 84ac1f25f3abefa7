// pino logger. Secrets are redacted by path so that a careless log call cannot leak them.
import { pino, type Logger, type DestinationStream } from 'pino'
import type { Config } from './config.ts'

export type { Logger }

const redactPaths = [
  'password',
  '*.password',
  'key',
  '*.key',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
]

export function createLogger(
  config: Pick<Config, 'logLevel' | 'logFormat'>,
  destination?: DestinationStream | number,
): Logger {
  const options = {
    level: config.logLevel,
    base: { name: 'tendril' },
    redact: { paths: redactPaths, censor: '[redacted]' },
  }
  if (config.logFormat === 'pretty' && destination === undefined) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY } } })
  }
  return pino(
    options,
    typeof destination === 'number'
      ? pino.destination({ dest: destination, sync: true })
      : (destination ?? pino.destination({ dest: 1, sync: false })),
  )
}
