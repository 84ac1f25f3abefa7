// Watchdog notices, as rhizo's controller_watchdog worker sent them: a controller whose folder sets
// watchdog_minutes (> 0) and watchdog_recipients (system attributes; comma-separated, an address
// with @ gets an email, anything else a text message) and whose last watchdog message is older than
// that is reported offline, once per outage. A controller that never sent one is not (it is being
// set up). The next watchdog message re-arms the notice (recordWatchdog).
//
// One notice per outage, and none lost: an instance claims the outage for a while before sending, so
// several instances never send it twice; each recipient told is recorded at once, and a recipient
// whose delivery failed (SMTP or webhook down) is tried again on a later run, while the ones already
// told are not told again. The notice is marked sent only when every recipient has it.
import type { CoreContext } from '../context.ts'
import { forbidden, invalid } from '../errors.ts'
import { isEmail, isPhone } from '../messages/outgoing.ts'
import { attemptOutgoing, THROTTLE } from '../messages/outgoing-throttle.ts'
import type { OutgoingKind } from '../messages/types.ts'
import type { Principal } from './permissions.ts'
import { pathOf } from './tree.ts'

/**
 * Longer than a send can take (createOutbox bounds SMTP and webhook waits), so a claim outlives its sender only when
 * that crashed.
 */
const CLAIM_MS = 5 * 60_000

interface WatchdogSettings {
  minutes: number
  recipients: string[]
}

/** A notice is mail or text to others: few recipients, and not more often than a minute's silence. */
export const MAX_WATCHDOG_RECIPIENTS = 10
export const MIN_WATCHDOG_MINUTES = 1
const MAX_WATCHDOG_MINUTES = 366 * 24 * 60

const recipientsOf = (value: unknown) => [
  ...new Set(
    String(value ?? '')
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean),
  ),
]
const validRecipient = (r: string) => isEmail(r) || isPhone(r)
const kindOf = (recipient: string): OutgoingKind => (recipient.includes('@') ? 'email' : 'sms')

// recipients stored before they were checked are held to the same bounds; minutes are checked when
// set (an operator may store less directly), and the throttle bounds notices either way
function settingsOf(systemAttributes: unknown): WatchdogSettings | null {
  const attrs = (systemAttributes ?? {}) as Record<string, unknown>
  const minutes = Number(attrs.watchdog_minutes)
  const recipients = recipientsOf(attrs.watchdog_recipients).filter(validRecipient).slice(0, MAX_WATCHDOG_RECIPIENTS)
  return Number.isFinite(minutes) && minutes > 0 && recipients.length ? { minutes, recipients } : null
}

/**
 * watchdog_* system attributes make the server send mail and texts, so only users set them (a
 * controller's key must not turn its folder into a relay); null or '' clears one.
 */
export function checkWatchdogAttributes(principal: Principal, given: Record<string, unknown>): void {
  const keys = Object.keys(given).filter((k) => k.startsWith('watchdog_'))
  if (keys.length === 0) return
  if (principal.kind !== 'user') throw forbidden('only users set watchdog_* attributes')
  const minutes = given.watchdog_minutes
  if (minutes !== undefined && minutes !== null && minutes !== '' && Number(minutes) !== 0) {
    const n = Number(minutes)
    if (!Number.isFinite(n) || n < MIN_WATCHDOG_MINUTES || n > MAX_WATCHDOG_MINUTES)
      throw invalid(`watchdog_minutes must be 0 (off) or from ${MIN_WATCHDOG_MINUTES} to ${MAX_WATCHDOG_MINUTES}`)
  }
  const recipients = given.watchdog_recipients
  if (recipients === undefined || recipients === null) return
  const list = typeof recipients === 'string' ? recipientsOf(recipients) : null
  if (!list || list.length > MAX_WATCHDOG_RECIPIENTS || !list.every(validRecipient)) {
    throw invalid(
      `watchdog_recipients must be at most ${MAX_WATCHDOG_RECIPIENTS} email addresses or phone numbers, comma-separated`,
    )
  }
}

const listOf = (text: string | null | undefined) => (text ? text.split(',') : [])

interface Outage {
  statusId: number
  controllerId: number
  /** the last watchdog message: it names the outage, and a newer one ends it */
  since: Date
  settings: WatchdogSettings
}

/** Sends the notices that are due; returns how many controllers were notified in full by this run. */
export async function notifyStaleWatchdogs(ctx: CoreContext, now = new Date()): Promise<number> {
  const armed = await ctx.db.controllerStatus.findMany({
    where: { watchdogNotificationSent: false, lastWatchdogAt: { not: null }, controller: { deleted: false } },
    select: { id: true, lastWatchdogAt: true, controllerId: true, controller: { select: { systemAttributes: true } } },
  })
  let notified = 0
  for (const status of armed) {
    const settings = settingsOf(status.controller.systemAttributes)
    if (!settings || now.getTime() - status.lastWatchdogAt!.getTime() < settings.minutes * 60_000) continue
    if (
      await sendNotice(
        ctx,
        { statusId: status.id, controllerId: status.controllerId, since: status.lastWatchdogAt!, settings },
        now,
      )
    )
      notified++
  }
  return notified
}

/** True when this call completed the outage's notice. */
async function sendNotice(ctx: CoreContext, outage: Outage, now: Date): Promise<boolean> {
  const { statusId: id, since } = outage
  const claimedUntil = new Date(now.getTime() + CLAIM_MS)
  const claim = await ctx.db.controllerStatus.updateMany({
    where: {
      id,
      lastWatchdogAt: since,
      watchdogNotificationSent: false,
      OR: [{ watchdogNoticeClaimedUntil: null }, { watchdogNoticeClaimedUntil: { lt: now } }],
    },
    data: { watchdogNoticeClaimedUntil: claimedUntil },
  })
  if (claim.count !== 1) return false // another instance is at it, or the controller came back
  try {
    const progress = await ctx.db.controllerStatus.findUnique({ where: { id }, select: { watchdogNoticeSentTo: true } })
    const told = new Set(listOf(progress?.watchdogNoticeSentTo))
    const path = await pathOf(ctx.db, outage.controllerId)
    const subject = `${path} is offline`
    const text = `${path} is offline: no watchdog message since ${since.toISOString()} (limit ${outage.settings.minutes} minutes).`
    // counted once per outage (not on retries): a flapping controller gets THROTTLE.max notices an hour per kind
    const throttled = told.size === 0 ? await throttledKinds(ctx, outage, path) : new Set<OutgoingKind>()
    let failed = false
    for (const recipient of outage.settings.recipients) {
      const kind = kindOf(recipient)
      if (told.has(recipient) || throttled.has(kind)) continue
      try {
        // an address this server cannot send to stays unsent, rather than being retried forever
        if (!ctx.outbox.ready(kind))
          ctx.log.warn(
            { controller: path, recipient },
            `watchdog notice not sent: ${kind === 'email' ? 'no --smtp-url' : 'no --sms-webhook'}`,
          )
        else if (kind === 'email') await ctx.outbox.email([recipient], subject, text)
        else await ctx.outbox.sms([recipient], text)
      } catch (err) {
        failed = true
        ctx.log.warn(
          { controller: path, recipient, reason: (err as Error).message },
          'watchdog notice not sent; trying again on the next run',
        )
        continue
      }
      told.add(recipient)
      await ctx.db.controllerStatus.updateMany({
        where: { id, lastWatchdogAt: since },
        data: { watchdogNoticeSentTo: [...told].join(',') },
      })
      if (ctx.outbox.ready(kind))
        await ctx.db.outgoingMessage.create({ data: { kind: 'watchdog', recipients: recipient, subject, body: text } })
    }
    if (failed) return false
    const done = await ctx.db.controllerStatus.updateMany({
      where: { id, lastWatchdogAt: since },
      data: { watchdogNotificationSent: true },
    })
    return done.count === 1
  } finally {
    await ctx.db.controllerStatus.updateMany({
      where: { id, watchdogNoticeClaimedUntil: claimedUntil },
      data: { watchdogNoticeClaimedUntil: null },
    })
  }
}

/**
 * The kinds of this notice that are over the throttle (outgoing-throttle.ts); those recipients are skipped, not
 * retried.
 */
async function throttledKinds(ctx: CoreContext, outage: Outage, path: string): Promise<Set<OutgoingKind>> {
  const throttled = new Set<OutgoingKind>()
  for (const kind of new Set(outage.settings.recipients.map(kindOf))) {
    if (await attemptOutgoing(ctx.db, kind, `watchdog:${outage.controllerId}`)) continue
    throttled.add(kind)
    ctx.log.warn(
      { controller: path, kind, limit: THROTTLE.max },
      'watchdog notice not sent: too many notices for this controller within an hour',
    )
  }
  return throttled
}
