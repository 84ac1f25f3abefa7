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
import { pathOf } from './tree.ts'

/** Longer than a send can take (createOutbox bounds SMTP and webhook waits), so a claim outlives its sender only when that crashed. */
const CLAIM_MS = 5 * 60_000

interface WatchdogSettings {
  minutes: number
  recipients: string[]
}

function settingsOf(systemAttributes: unknown): WatchdogSettings | null {
  const attrs = (systemAttributes ?? {}) as Record<string, unknown>
  const minutes = Number(attrs.watchdog_minutes)
  const recipients = String(attrs.watchdog_recipients ?? '').split(',').map((r) => r.trim()).filter(Boolean)
  return Number.isFinite(minutes) && minutes > 0 && recipients.length ? { minutes, recipients: [...new Set(recipients)] } : null
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
    if (await sendNotice(ctx, { statusId: status.id, controllerId: status.controllerId, since: status.lastWatchdogAt!, settings }, now)) notified++
  }
  return notified
}

/** True when this call completed the outage's notice. */
async function sendNotice(ctx: CoreContext, outage: Outage, now: Date): Promise<boolean> {
  const { statusId: id, since } = outage
  const claimedUntil = new Date(now.getTime() + CLAIM_MS)
  const claim = await ctx.db.controllerStatus.updateMany({
    where: { id, lastWatchdogAt: since, watchdogNotificationSent: false, OR: [{ watchdogNoticeClaimedUntil: null }, { watchdogNoticeClaimedUntil: { lt: now } }] },
    data: { watchdogNoticeClaimedUntil: claimedUntil },
  })
  if (claim.count !== 1) return false // another instance is at it, or the controller came back
  try {
    const progress = await ctx.db.controllerStatus.findUnique({ where: { id }, select: { watchdogNoticeSentTo: true } })
    const told = new Set(listOf(progress?.watchdogNoticeSentTo))
    const path = await pathOf(ctx.db, outage.controllerId)
    const subject = `${path} is offline`
    const text = `${path} is offline: no watchdog message since ${since.toISOString()} (limit ${outage.settings.minutes} minutes).`
    let failed = false
    for (const recipient of outage.settings.recipients) {
      if (told.has(recipient)) continue
      const kind = recipient.includes('@') ? 'email' : 'sms'
      try {
        // an address this server cannot send to stays unsent, rather than being retried forever
        if (!ctx.outbox.ready(kind)) ctx.log.warn({ controller: path, recipient }, `watchdog notice not sent: ${kind === 'email' ? 'no --smtp-url' : 'no --sms-webhook'}`)
        else if (kind === 'email') await ctx.outbox.email([recipient], subject, text)
        else await ctx.outbox.sms([recipient], text)
      } catch (err) {
        failed = true
        ctx.log.warn({ controller: path, recipient, reason: (err as Error).message }, 'watchdog notice not sent; trying again on the next run')
        continue
      }
      told.add(recipient)
      await ctx.db.controllerStatus.updateMany({ where: { id, lastWatchdogAt: since }, data: { watchdogNoticeSentTo: [...told].join(',') } })
      if (ctx.outbox.ready(kind)) await ctx.db.outgoingMessage.create({ data: { kind: 'watchdog', recipients: recipient, subject, body: text } })
    }
    if (failed) return false
    const done = await ctx.db.controllerStatus.updateMany({ where: { id, lastWatchdogAt: since }, data: { watchdogNotificationSent: true } })
    return done.count === 1
  } finally {
    await ctx.db.controllerStatus.updateMany({ where: { id, watchdogNoticeClaimedUntil: claimedUntil }, data: { watchdogNoticeClaimedUntil: null } })
  }
}
