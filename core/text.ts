// Rules for text that reaches the database as text or JSON, whatever door it came through.

/**
 * PostgreSQL stores no NUL character in text or JSON (the statement fails), so no stored field may
 * hold one, on either database alike. True when a string, or any key or string inside an object or
 * array, holds one; the keys in `skip` (at the top level) are left out: bytes stored as such.
 */
export function hasNul(value: unknown, skip?: ReadonlySet<string>, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000')
  if (!value || typeof value !== 'object' || Buffer.isBuffer(value) || depth > 64) return false
  for (const [key, item] of Object.entries(value)) {
    if (key.includes('\u0000')) return true
    if (!skip?.has(key) && hasNul(item, undefined, depth + 1)) return true
  }
  return false
}
