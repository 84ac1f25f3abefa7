// Keyed hashes for long random secrets (API keys, session tokens, PIN codes). They carry enough
// entropy that a fast HMAC is as safe as bcrypt and costs microseconds, which matters when
// thousands of controllers connect at once. Passwords use bcrypt (passwords.ts).
import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto'

export function keyedHash(secret: string, value: string): string {
  return createHmac('sha256', secret).update(value).digest('hex')
}

export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex')
  const y = Buffer.from(b, 'hex')
  return x.length === y.length && timingSafeEqual(x, y)
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

/** Uniformly random [A-Z0-9] characters (randomInt has no modulo bias). */
export function randomAlphanumeric(length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]
  return out
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}
