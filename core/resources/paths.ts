// Resource names and paths. Every folder is also an MQTT topic, so names exclude MQTT's wildcard
// characters as well as anything that would make a path ambiguous.
import { invalid } from '../errors.ts'

export const MAX_NAME_LENGTH = 100
export const MAX_PATH_DEPTH = 32

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/

/**
 * The rule for a new name (creation, rename, move, auto-created folders): a name in a path, and no "\"
 * or ":", which file systems and archive tools read as separators (a zip entry "..\x" escapes its folder).
 */
export function checkName(name: string): string {
  checkPathName(name)
  if (name.includes('\\') || name.includes(':')) throw invalid('a name must not contain "\\" or ":"')
  return name
}

/** A name as it may appear in a path; names made before "\" and ":" were refused still resolve. */
export function checkPathName(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw invalid('a name must not be empty')
  if (name.length > MAX_NAME_LENGTH) throw invalid(`a name must be at most ${MAX_NAME_LENGTH} characters`)
  if (name.includes('/')) throw invalid('a name must not contain "/"')
  if (name === '.' || name === '..') throw invalid('a name must not be "." or ".."')
  if (CONTROL_CHARS.test(name)) throw invalid('a name must not contain control characters')
  if (name.includes('+') || name.includes('#')) throw invalid('a name must not contain the MQTT wildcards "+" or "#"')
  if (name.startsWith('$')) throw invalid('a name must not start with "$" (reserved for MQTT system topics)')
  if (name.trim() !== name) throw invalid('a name must not start or end with white space')
  return name
}

/** Splits "/org/folder/x" or "org/folder/x" into checked names. */
export function splitPath(path: string): string[] {
  const names = path.split('/').filter((part, i, all) => part !== '' || (i > 0 && i < all.length - 1))
  if (names.length === 0) throw invalid('a path must name at least an organization')
  if (names.length > MAX_PATH_DEPTH) throw invalid(`a path must be at most ${MAX_PATH_DEPTH} levels deep`)
  for (const name of names) checkPathName(name)
  return names
}

export function joinPath(names: string[]): string {
  return '/' + names.join('/')
}
