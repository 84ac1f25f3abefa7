// Paths as the SDK takes them: relative to the controller's own folder unless they start with "/".
// MQTT topics are resource paths without the leading slash (DESIGN.md, MQTT).
import { ValidationError } from './errors.ts'

/** "/acme/lab/pi-1" + "status/cpu" → "/acme/lab/pi-1/status/cpu"; absolute paths are kept. */
export function resolvePath(own: string, path: string): string {
  if (typeof path !== 'string' || path === '' || path === '/')
    throw new ValidationError(`not a resource path: ${JSON.stringify(path)}`)
  const absolute = path.startsWith('/') ? path : `${own.replace(/\/+$/, '')}/${path}`
  const names = absolute.split('/').slice(1)
  if (names.some((n) => n === '' || n === '.' || n === '..'))
    throw new ValidationError(`not a resource path: ${JSON.stringify(path)}`)
  return '/' + names.join('/')
}

export const pathToTopic = (path: string) => path.replace(/^\/+/, '')
export const topicToPath = (topic: string) => '/' + topic

/** "/acme/lab/pi-1/temp" → ["/acme/lab/pi-1", "temp"]. */
export function splitPath(path: string): [folder: string, name: string] {
  const slash = path.lastIndexOf('/')
  return [path.slice(0, slash), path.slice(slash + 1)]
}

/** The REST URL of a resource: each name percent-encoded, so names with spaces or "?" survive. */
export function resourceUrl(base: string, path: string): string {
  const encoded = path.split('/').filter(Boolean).map(encodeURIComponent).join('/')
  return `${base.replace(/\/+$/, '')}/api/v1/resources/${encoded}`
}
