// Passwords: bcrypt with a configurable cost (async, so it runs on libuv's pool, not the event loop).
import bcrypt from 'bcrypt'
import { invalid } from '../errors.ts'

/** bcrypt only reads the first 72 bytes; longer passwords would silently share a hash. */
const BCRYPT_MAX_BYTES = 72

export function checkPasswordRules(password: string, minLength: number): void {
  if (password.length < minLength) throw invalid(`password must be at least ${minLength} characters`)
  if (Buffer.byteLength(password, 'utf8') > BCRYPT_MAX_BYTES)
    throw invalid(`password must be at most ${BCRYPT_MAX_BYTES} bytes`)
}

export function hashPassword(password: string, cost: number): Promise<string> {
  return bcrypt.hash(password, cost)
}

export function verifyPassword(password: string, hash: string): Promise<boolean> {
  return bcrypt.compare(password, hash)
}

/** A valid hash that matches nothing, compared against when the account does not exist so timing reveals nothing. */
export const UNUSABLE_HASH = '$2b$12$C6UzMDM.H6dfI/f/IKcEeO5QH1y0g0ZtUJ3b1FZ9R5X6rDk9Jm0dW'
