// Topic <-> resource path. A topic is the path without its leading slash: acme/greenhouse/pi-1.
import { splitPath } from '../core/resources/paths.ts'

export function topicToPath(topic: string): string {
  return '/' + topic
}

export function pathToTopic(path: string): string {
  return splitPath(path).join('/')
}

export interface FilterShape {
  /** the levels before the first wildcard, as a path ('' when the filter starts with one) */
  prefixPath: string
  wildcard: boolean
  /** $SYS and other $ topics, which wildcards never match [MQTT-4.7.2-1] */
  system: boolean
}

export function filterShape(filter: string): FilterShape {
  const levels = filter.split('/')
  const first = levels.findIndex((level) => level === '+' || level === '#')
  const prefix = first === -1 ? levels : levels.slice(0, first)
  return { prefixPath: prefix.length ? '/' + prefix.join('/') : '', wildcard: first !== -1, system: filter.startsWith('$') }
}
