// Watchdog notices: a controller whose folder sets watchdog_minutes and watchdog_recipients (system
// attributes, as in rhizo) and whose last watchdog is older than that gets one notice per outage;
// the next watchdog message re-arms it (recordWatchdog).
import type { CoreContext } from '../context.ts'
import { pathOf } from './tree.ts'

interface WatchdogSettings {
  minutes: number
  recipients: string[]
}

function settingsOf(systemAttributes: unknown): WatchdogSettings | null {
  const attrs = (systemAttributes ?? {}) as Record<string, unknown>
  const minutes = Number(attrs.watchdog_minutes)
  const recipients = String(attrs.watchdog_recipients ?? '').split(',').map((r) => r.trim()).filter(Boolean)
  return Number.isFinite(minutes) && minutes > 0 && recipients.length ? { minutes, recipients } : null
}

/** Sends the notices that are due; returns how many controllers were notified. */
export async function notifyStaleWatchdogs(ctx: CoreContext, now = new Date()): Promise<number> {
  const armed = await ctx.db.controllerStatus.findMany({
    where: { watchdogNotificationSent: false, lastWatchdogAt: { not: null }, controller: { deleted: false } },
    select: { id: true, lastWatchdogAt: true, controllerId: true, controller: { select: { systemAttributes: true } } },
  })
  let notified = 0
  for (const status of armed) {
    const settings = settingsOf(status.controller.systemAttributes)
    if (!settings || now.getTime() - status.lastWatchdogAt!.getTime() < settings.minutes * 60_000) continue
    // claim the notice first: with several instances only the one whose update wins sends it
    const claim = await ctx.db.controllerStatus.updateMany({ where: { id: status.id, watchdogNotificationSent: false }, data: { watchdogNotificationSent: true } })
    if (claim.count !== 1) continue
    const path = await pathOf(ctx.db, status.controllerId)
    const text = `Controller ${path} has sent no watchdog message since ${status.lastWatchdogAt!.toISOString()} (limit: ${settings.minutes} minutes).`
    const emails = settings.recipients.filter((r) => r.includes('@'))
    const phones = settings.recipients.filter((r) => !r.includes('@'))
    try {
      if (emails.length) await ctx.outbox.email(emails, `Watchdog: ${path}`, text)
      if (phones.length) await ctx.outbox.sms(phones, text)
      await ctx.db.outgoingMessage.create({ data: { kind: 'watchdog', recipients: settings.recipients.join(','), subject: `Watchdog: ${path}`, body: text } })
      notified++
    } catch (err) {
      ctx.log.warn({ controller: path, reason: (err as Error).message }, 'watchdog notice not sent')
    }
  }
  return notified
}
