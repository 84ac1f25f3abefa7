// rhizo's throttle on emails and text messages (outgoing_messages.py, check_and_update_throttle): per
// sender and kind, an attempt is refused when the sender already made 10 attempts within the past
// hour. Refused attempts count too, as in rhizo, so a sender that keeps trying stays refused until it
// pauses; remembering the latest 10 attempts is therefore enough to decide exactly.
//
// The attempts live in one OutgoingThrottle row per sender and kind, changed only by compare-and-swap
// on its version: each attempt is counted and decided in one atomic step of the database, so
// concurrent requests (REST calls, MQTT messages, several instances on one database) never get more
// than 10 through, on SQLite and PostgreSQL alike.
import { setTimeout as sleep } from 'node:timers/promises'
import type { DbClient } from '../db/index.ts'
import { isUniqueViolation } from '../db/index.ts'
import { rateLimited } from '../errors.ts'
import type { OutgoingKind } from './types.ts'

export const THROTTLE = { max: 10, windowMs: 3600_000 }

/** Each round someone's swap succeeds, so only a crowd of concurrent attempts by one sender gets here. */
const MAX_ROUNDS = 200

const parseAttempts = (text: string) => text.split(',').filter(Boolean).map(Number).filter(Number.isFinite)

/**
 * Counts one attempt by sender ("controller:<id>" or "user:<id>") to send kind at time now; false
 * when it is refused (the sender's 10 attempts within the past hour were already made).
 */
export async function attemptOutgoing(
  db: DbClient,
  kind: OutgoingKind,
  sender: string,
  now = Date.now(),
): Promise<boolean> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const row = await db.outgoingThrottle.findUnique({ where: { kind_sender: { kind, sender } } })
    if (!row) {
      try {
        await db.outgoingThrottle.create({ data: { kind, sender, attempts: String(now) } })
        return true
      } catch (err) {
        if (!isUniqueViolation(err)) throw err
        continue // another request created it first: count against its row
      }
    }
    // rhizo keeps the attempts after "an hour ago", strictly
    const recent = parseAttempts(row.attempts).filter((t) => t > now - THROTTLE.windowMs)
    const allowed = recent.length < THROTTLE.max
    const attempts = [...recent, now]
      .sort((a, b) => a - b)
      .slice(-THROTTLE.max)
      .join(',')
    const swapped = await db.outgoingThrottle.updateMany({
      where: { id: row.id, version: row.version },
      data: { attempts, version: { increment: 1 } },
    })
    if (swapped.count === 1) return allowed
    // another attempt by the same sender changed the row since it was read: read it again, after a
    // short random pause so a crowd of them does not collide in lockstep
    await sleep(Math.random() * Math.min(20, round + 1))
  }
  throw rateLimited('too many simultaneous requests to send messages; try again')
}
