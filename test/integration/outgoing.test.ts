// Emails and text messages: send_email / send_text_message over MQTT and REST, rhizo's throttle,
// and watchdog notices — against a real SMTP server (smtp-server) and a real HTTP webhook.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { SMTPServer } from 'smtp-server'
import { createController, createKeyForUser, createOrg, createOrgUser } from '../../core/admin.ts'
import { recordWatchdog } from '../../core/resources/controller-status.ts'
import { notifyStaleWatchdogs } from '../../core/resources/watchdog.ts'
import { createTendril, type Tendril } from '../../server.ts'
import { freePort } from '../harness/ports.ts'
import { openTestCore, providers, type TestCore } from '../helpers/core.ts'
import { connect, endAll } from '../helpers/mqtt.ts'
import { basicAuth, eventually } from '../helpers/http.ts'

interface Mail {
  to: string[]
  data: string
}

function startSmtp(): Promise<{ server: SMTPServer; port: number; mails: Mail[] }> {
  const mails: Mail[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, callback) {
      let data = ''
      stream.on('data', (chunk: Buffer) => (data += chunk))
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), data })
        callback()
      })
    },
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.server.address() as AddressInfo).port, mails })))
}

function startWebhook(): Promise<{ server: Server; url: string; received: unknown[] }> {
  const received: unknown[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c))
    req.on('end', () => {
      received.push(JSON.parse(body))
      res.end('ok')
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`, received })))
}


for (const provider of providers) {
  describe(`outgoing email and text messages on ${provider}`, () => {
    let smtp: Awaited<ReturnType<typeof startSmtp>>
    let webhook: Awaited<ReturnType<typeof startWebhook>>
    let core: TestCore
    let tendril: Tendril
    let url: string
    let mqttUrl: string
    let piKey: string
    let piId: number
    let userKey: string

    before(async () => {
      smtp = await startSmtp()
      webhook = await startWebhook()
      core = await openTestCore(provider, { 'smtp-url': `smtp://127.0.0.1:${smtp.port}`, 'sms-webhook': webhook.url, 'email-from': 'lab@example.com' })
      tendril = await createTendril(core)
      const ports = await tendril.listen({ port: 0, host: '127.0.0.1', mqttPort: await freePort() })
      url = `http://127.0.0.1:${ports.port}`
      mqttUrl = `mqtt://127.0.0.1:${ports.mqttPort}`
      await createOrg(core, 'acme')
      const pi = await createController(core, 'acme/greenhouse/pi-1')
      piKey = pi.key
      piId = pi.id
      await createOrgUser(core, 'ann@example.com', 'long enough pw', 'acme', false)
      userKey = (await createKeyForUser(core, 'ann@example.com', 'acme')).key
    })
    after(async () => {
      endAll()
      await tendril.close()
      await core.cleanup()
      smtp.server.close()
      webhook.server.close()
    })

    const postMessage = (type: string, parameters: unknown) =>
      fetch(`${url}/api/v1/messages`, {
        method: 'POST',
        headers: { authorization: basicAuth(userKey), 'content-type': 'application/json' },
        body: JSON.stringify({ folder_path: '/acme/greenhouse', type, parameters }),
      })

    test('send_email published by a controller over MQTT is delivered by SMTP and logged', async () => {
      const client = await connect(mqttUrl, piKey)
      client.publish('acme/greenhouse/pi-1', JSON.stringify({ send_email: { email_address: 'keeper@example.com', subject: 'Too hot', body: 'Greenhouse at 41 C' } }))
      assert.ok(await eventually(() => smtp.mails.length === 1))
      assert.deepEqual(smtp.mails[0]!.to, ['keeper@example.com'])
      assert.match(smtp.mails[0]!.data, /Subject: Too hot/)
      assert.match(smtp.mails[0]!.data, /From: lab@example.com/)
      assert.match(smtp.mails[0]!.data, /Greenhouse at 41 C/)
      // the log entry is written once the SMTP exchange has completed, just after the server saw the mail
      let logged = await core.db.outgoingMessage.findMany({ where: { kind: 'email' } })
      for (let i = 0; i < 100 && logged.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 20))
        logged = await core.db.outgoingMessage.findMany({ where: { kind: 'email' } })
      }
      assert.equal(logged.length, 1)
      assert.equal(logged[0]!.senderControllerId, piId)
    })

    test('send_text_message posted over REST reaches the SMS webhook', async () => {
      const res = await postMessage('send_text_message', { phone_number: '+15551234567', message: 'Door open' })
      assert.equal(res.status, 200)
      assert.deepEqual(webhook.received, [{ to: '+15551234567', message: 'Door open' }])
    })

    test('a bad recipient is refused with 400 and nothing is sent', async () => {
      const before = smtp.mails.length
      const res = await postMessage('send_email', { email_address: 'not an address', subject: 's', body: 'b' })
      assert.equal(res.status, 400)
      assert.equal(smtp.mails.length, before)
    })

    test('a sender gets at most 10 emails an hour; the 11th is refused with 429', async () => {
      const before = smtp.mails.length
      for (let i = 0; i < 10; i++) assert.equal((await postMessage('send_email', { email_address: 'a@example.com', subject: `n${i}`, body: '' })).status, 200)
      const eleventh = await postMessage('send_email', { email_address: 'a@example.com', subject: 'n10', body: '' })
      assert.equal(eleventh.status, 429)
      assert.equal(smtp.mails.length, before + 10)
    })

    test('a stale watchdog sends one notice per outage, and a new watchdog re-arms it', async () => {
      await core.db.resource.update({ where: { id: piId }, data: { systemAttributes: { watchdog_minutes: 5, watchdog_recipients: 'night@example.com' } } })
      const tenMinutesAgo = new Date(Date.now() - 10 * 60_000)
      await recordWatchdog(core.db, piId, tenMinutesAgo)
      const before = smtp.mails.length
      assert.equal(await notifyStaleWatchdogs(core), 1)
      assert.equal(await notifyStaleWatchdogs(core), 0, 'one notice per outage')
      assert.equal(smtp.mails.length, before + 1)
      assert.deepEqual(smtp.mails.at(-1)!.to, ['night@example.com'])
      assert.match(smtp.mails.at(-1)!.data, /acme\/greenhouse\/pi-1/)
      await recordWatchdog(core.db, piId) // back alive
      assert.equal(await notifyStaleWatchdogs(core), 0, 'fresh watchdog: nothing to say')
      await recordWatchdog(core.db, piId, tenMinutesAgo) // and gone again
      assert.equal(await notifyStaleWatchdogs(core), 1)
    })
  })
}

describe('outgoing messages without configuration', () => {
  test('email asked of a server without smtp-url is a clear 400', async () => {
    const core = await openTestCore('sqlite')
    const tendril = await createTendril(core)
    try {
      const { port } = await tendril.listen({ port: 0, host: '127.0.0.1', mqttPort: 0 })
      await createOrg(core, 'acme')
      await createOrgUser(core, 'ann@example.com', 'long enough pw', 'acme', false)
      const key = (await createKeyForUser(core, 'ann@example.com', 'acme')).key
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/messages`, {
        method: 'POST',
        headers: { authorization: basicAuth(key), 'content-type': 'application/json' },
        body: JSON.stringify({ folder_path: '/acme', type: 'send_email', parameters: { email_address: 'a@example.com', subject: 's', body: 'b' } }),
      })
      assert.equal(res.status, 400)
      assert.match(((await res.json()) as { message: string }).message, /email is not configured/)
    } finally {
      await tendril.close()
      await core.cleanup()
    }
  })
})
