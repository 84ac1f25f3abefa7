// Topic <-> resource path. A topic is the path without its leading slash: acme/greenhouse/pi-1.
import { invalid } from '../core/errors.ts'
import { checkPathName, MAX_PATH_DEPTH, splitPath } from '../core/resources/paths.ts'

export function topicToPath(topic: string): string {
  return '/' + topic
}

/**
 * Whether a topic has an empty level (`acme//x`, `acme/lab/`): valid in MQTT [MQTT-4.7.1-3], but no resource's topic.
 */
export function hasEmptyLevel(topic: string): boolean {
  return topic.startsWith('/') || topic.endsWith('/') || topic.includes('//')
}

/**
 * The names of the path whose access governs a topic: its levels up to the first empty one, as no
 * resource has an empty name (`acme//x` is a sub-topic of /acme, `acme/lab/` of /acme/lab). Throws
 * when no one may use the topic: a bad name, or an empty first level (no organization has that name).
 */
export function accessNames(topic: string): string[] {
  if (!hasEmptyLevel(topic)) return splitPath(topic)
  const levels = topic.split('/')
  if (levels.length > MAX_PATH_DEPTH) throw invalid(`a topic must be at most ${MAX_PATH_DEPTH} levels deep`)
  for (const level of levels) if (level !== '') checkPathName(level)
  const names = levels.slice(0, levels.indexOf(''))
  if (names.length === 0) throw invalid('a topic must start with an organization')
  return names
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
  return {
    prefixPath: prefix.length ? '/' + prefix.join('/') : '',
    wildcard: first !== -1,
    system: filter.startsWith('$'),
  }
}

/** A topic may be 64 KB long: a log line keeps its first characters and its size (as closing-log.ts caps reasons). */
export const MAX_LOGGED_TOPIC = 200

export function loggedTopic(topic: string): string {
  if (topic.length <= MAX_LOGGED_TOPIC) return topic
  return `${topic.slice(0, MAX_LOGGED_TOPIC)}…(${Buffer.byteLength(topic)} bytes)`
}
