// Email and text messages sent for controllers and users (send_email, send_text_message/send_sms,
// watchdog notices), throttled as rhizo did: at most 10 per hour per sender and kind. Every message
// sent is logged in OutgoingMessage, which is also what the throttle counts.
import nodemailer from 'nodemailer'
import { z } from 'zod'
import type { Config } from '../config.ts'
import type { CoreContext } from '../context.ts'
import { invalid, rateLimited } from '../errors.ts'
import type { Principal } from '../resources/permissions.ts'

export const THROTTLE = { max: 10, windowMs: 3600_000 }
export type OutgoingKind = 'email' | 'sms'

// rhizo-client sends camelCase in older versions and snake_case in newer ones
const emailParams = z
  .object({
    email_address: z.string().optional(),
    emailAddress: z.string().optional(),
    subject: z.string().max(200).default(''),
    body: z.string().max(100_000).default(''),
  })
  .transform((p) => ({ to: p.email_address ?? p.emailAddress, subject: p.subject, body: p.body }))
const smsParams = z
  .object({ phone_number: z.string().optional(), phoneNumber: z.string().optional(), message: z.string().min(1).max(1600) })
  .transform((p) => ({ to: p.phone_number ?? p.phoneNumber, message: p.message }))

const recipientList = (to: string | undefined, check: (r: string) => boolean, what: string) => {
  const list = (to ?? '').split(',').map((r) => r.trim()).filter(Boolean)
  if (list.length === 0 || list.length > 10 || !list.every(check)) throw invalid(`expected 1 to 10 comma-separated ${what}`)
  return list
}
const isEmail = (r: string) => z.email().safeParse(r).success
const isPhone = (r: string) => /^\+?[0-9 ()-]{5,20}$/.test(r)

export interface Outbox {
  email(to: string[], subject: string, body: string): Promise<void>
  sms(to: string[], message: string): Promise<void>
}

/** The real delivery: SMTP through nodemailer, text messages through the configured webhook. */
export function createOutbox(config: Config['outgoing']): Outbox {
  const transport = config.smtpUrl ? nodemailer.createTransport(config.smtpUrl) : null
  return {
    async email(to, subject, text) {
      if (!transport) throw invalid('email is not configured on this server (smtp-url)')
      await transport.sendMail({ from: config.emailFrom, to, subject, text })
    },
    async sms(to, message) {
      if (!config.smsWebhook) throw invalid('text messages are not configured on this server (sms-webhook)')
      for (const recipient of to) {
        const res = await fetch(config.smsWebhook, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ to: recipient, message }),
          signal: AbortSignal.timeout(10_000),
        })
        if (!res.ok) throw new Error(`sms webhook answered ${res.status}`)
      }
    },
  }
}

async function throttled(ctx: CoreContext, kind: OutgoingKind, sender: { senderControllerId: number | null; senderUserId: number | null }) {
  const since = new Date(Date.now() - THROTTLE.windowMs)
  const count = await ctx.db.outgoingMessage.count({ where: { kind, ...sender, timestamp: { gte: since } } })
  return count >= THROTTLE.max
}

const senderOf = (principal: Principal | null) => ({
  senderControllerId: principal?.kind === 'controller' ? principal.controllerId : null,
  senderUserId: principal?.kind === 'user' ? principal.userId : null,
})

/** Sends what a send_email / send_text_message message asks for; principal null = the server itself. */
export async function sendOutgoing(ctx: CoreContext, outbox: Outbox, principal: Principal | null, type: string, parameters: unknown) {
  const kind: OutgoingKind = type === 'send_email' ? 'email' : 'sms'
  const sender = senderOf(principal)
  if (principal && (await throttled(ctx, kind, sender))) throw rateLimited(`at most ${THROTTLE.max} ${kind === 'email' ? 'emails' : 'text messages'} per hour`)
  if (kind === 'email') {
    const p = emailParams.safeParse(parameters)
    if (!p.success) throw invalid('send_email needs email_address, subject and body')
    const to = recipientList(p.data.to, isEmail, 'email addresses')
    await outbox.email(to, p.data.subject, p.data.body)
    await ctx.db.outgoingMessage.create({ data: { kind, ...sender, recipients: to.join(','), subject: p.data.subject, body: p.data.body } })
  } else {
    const p = smsParams.safeParse(parameters)
    if (!p.success) throw invalid('send_text_message needs phone_number and message')
    const to = recipientList(p.data.to, isPhone, 'phone numbers')
    await outbox.sms(to, p.data.message)
    await ctx.db.outgoingMessage.create({ data: { kind, ...sender, recipients: to.join(','), body: p.data.message } })
  }
}

export const OUTGOING_TYPES: ReadonlySet<string> = new Set(['send_email', 'send_text_message', 'send_sms'])
