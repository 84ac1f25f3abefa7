// Email and text messages sent for controllers and users (send_email, send_text_message/send_sms,
// watchdog notices), throttled as rhizo did (outgoing-throttle.ts). Every message sent is logged in
// OutgoingMessage, for looking into abuse.
import nodemailer from 'nodemailer'
import { z } from 'zod'
import type { Config } from '../config.ts'
import type { CoreContext } from '../context.ts'
import { forbidden, invalid, rateLimited } from '../errors.ts'
import type { Principal } from '../resources/permissions.ts'
import { attemptOutgoing, THROTTLE } from './outgoing-throttle.ts'
import type { OutgoingKind, Outbox } from './types.ts'

/** rhizo-client's send_email and send_sms take "up to five" addresses or numbers. */
export const MAX_RECIPIENTS = 5

// rhizo's types, including the camelCase ones its websocket accepted from older clients
const KIND_BY_TYPE: Record<string, OutgoingKind> = {
  send_email: 'email',
  sendEmail: 'email',
  send_text_message: 'sms',
  sendTextMessage: 'sms',
  send_sms: 'sms',
}
export const OUTGOING_TYPES: ReadonlySet<string> = new Set(Object.keys(KIND_BY_TYPE))

// rhizo-client sends emailAddresses / phoneNumbers, rhizo-server also read email_addresses /
// phone_numbers; the singular names are Tendril's own first ones. A comma-separated string or a list.
const recipients = z.union([z.string(), z.array(z.string())]).optional()
const emailParams = z
  .object({
    emailAddresses: recipients,
    email_addresses: recipients,
    email_address: recipients,
    emailAddress: recipients,
    subject: z.string().max(200).default(''),
    body: z.string().max(100_000).default(''),
  })
  .transform((p) => ({
    to: p.emailAddresses ?? p.email_addresses ?? p.email_address ?? p.emailAddress,
    subject: p.subject,
    body: p.body,
  }))
const smsParams = z
  .object({
    phoneNumbers: recipients,
    phone_numbers: recipients,
    phone_number: recipients,
    phoneNumber: recipients,
    message: z.string().min(1).max(1600),
  })
  .transform((p) => ({ to: p.phoneNumbers ?? p.phone_numbers ?? p.phone_number ?? p.phoneNumber, message: p.message }))

const recipientList = (to: string | string[] | undefined, check: (r: string) => boolean, what: string) => {
  const list = [to ?? []]
    .flat()
    .flatMap((r) => r.split(','))
    .map((r) => r.trim())
    .filter(Boolean)
  if (list.length === 0 || list.length > MAX_RECIPIENTS || !list.every(check))
    throw invalid(`expected 1 to ${MAX_RECIPIENTS} ${what}`)
  return list
}
export const isEmail = (r: string) => z.email().safeParse(r).success
export const isPhone = (r: string) => /^\+?[0-9 ()-]{5,20}$/.test(r)

interface OutgoingMessage {
  kind: OutgoingKind
  to: string[]
  subject?: string
  body: string
}

/** What a send_email / send_text_message message asks for, checked before anything is counted or sent. */
function parseOutgoing(type: string, parameters: unknown): OutgoingMessage {
  const kind = KIND_BY_TYPE[type]
  if (kind === 'email') {
    const p = emailParams.safeParse(parameters)
    if (!p.success) throw invalid(`${type} needs emailAddresses, subject and body`)
    return {
      kind,
      to: recipientList(p.data.to, isEmail, 'email addresses'),
      subject: p.data.subject,
      body: p.data.body,
    }
  }
  if (kind === 'sms') {
    const p = smsParams.safeParse(parameters)
    if (!p.success) throw invalid(`${type} needs phoneNumbers and message`)
    return { kind, to: recipientList(p.data.to, isPhone, 'phone numbers'), body: p.data.message }
  }
  throw invalid(`${type} is not an email or text message`)
}

const notConfigured = (kind: OutgoingKind) =>
  invalid(
    kind === 'email'
      ? 'email is not configured on this server (smtp-url)'
      : 'text messages are not configured on this server (sms-webhook)',
  )

/** The real delivery: SMTP through nodemailer, text messages through the configured webhook. */
export function createOutbox(config: Config['outgoing']): Outbox {
  // nodemailer waits up to 2 minutes to connect and 10 for a silent server by default; a watchdog
  // notice holds its claim while it sends (watchdog.ts), so a send must end well within that
  const transport = config.smtpUrl
    ? nodemailer.createTransport({
        url: config.smtpUrl,
        connectionTimeout: 15_000,
        greetingTimeout: 15_000,
        socketTimeout: 30_000,
      })
    : null
  return {
    ready: (kind) => (kind === 'email' ? transport !== null : !!config.smsWebhook),
    async email(to, subject, text) {
      if (!transport) throw notConfigured('email')
      await transport.sendMail({ from: config.emailFrom, to, subject, text })
    },
    async sms(to, message) {
      if (!config.smsWebhook) throw notConfigured('sms')
      for (const recipient of to) {
        const res = await fetch(config.smsWebhook, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ to: recipient, message }),
          signal: AbortSignal.timeout(10_000),
        })
        await res.body?.cancel()
        if (!res.ok) throw new Error(`sms webhook answered ${res.status}`)
      }
    },
  }
}

const senderOf = (principal: Principal | null) => ({
  senderControllerId: principal?.kind === 'controller' ? principal.controllerId : null,
  senderUserId: principal?.kind === 'user' ? principal.userId : null,
})

function throttleKey(principal: Principal): string {
  if (principal.kind === 'controller') return `controller:${principal.controllerId}`
  if (principal.kind === 'user') return `user:${principal.userId}`
  // a folder anyone may write to must not make the server an open mail relay
  throw forbidden('only controllers and signed-in users may send emails and text messages')
}

/** Sends what a send_email / send_text_message message asks for; principal null = the server itself (not throttled). */
export async function sendOutgoing(
  ctx: CoreContext,
  outbox: Outbox,
  principal: Principal | null,
  type: string,
  parameters: unknown,
) {
  const message = parseOutgoing(type, parameters)
  if (!outbox.ready(message.kind)) throw notConfigured(message.kind)
  if (principal && !(await attemptOutgoing(ctx.db, message.kind, throttleKey(principal)))) {
    throw rateLimited(`at most ${THROTTLE.max} ${message.kind === 'email' ? 'emails' : 'text messages'} per hour`)
  }
  if (message.kind === 'email') await outbox.email(message.to, message.subject ?? '', message.body)
  else await outbox.sms(message.to, message.body)
  await ctx.db.outgoingMessage.create({
    data: {
      kind: message.kind,
      ...senderOf(principal),
      recipients: message.to.join(','),
      subject: message.subject ?? null,
      body: message.body,
    },
  })
}
