// Emails and text messages: send_email / send_text_message / send_sms over MQTT and REST, in the
// forms rhizo's client sends, and rhizo's throttle — against a real SMTP server (smtp-server) and a
// real HTTP server as the SMS webhook.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createController, createKeyForUser, createOrgUser } from '../../core/admin.ts'
import { createTendril, type Tendril } from '../../server.ts'
import { openTestCore, providers, type TestCore } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { connect, endAll } from '../helpers/mqtt.ts'
import { basicAuth, eventually } from '../helpers/http.ts'
import { startSmtp, startWebhook, type TestSmtp, type TestWebhook } from '../helpers/outbox.ts'

for (const provider of providers) {
  describe(`outgoing email and text messages on ${provider}`, () => {
    let smtp: TestSmtp
    let webhook: TestWebhook
    let core: TestCore
    let tendril: Tendril
    let url: string
    let mqttUrl: string
    let piKey: string
    let piId: number
    let userKey: string
    let controllers = 0

    before(async () => {
      smtp = await startSmtp()
      webhook = await startWebhook()
      core = await openTestCore(provider, {
        'smtp-url': smtp.url,
        'sms-webhook': webhook.url,
        'email-from': 'lab@example.com',
      })
      tendril = await createTendril(core)
      const ports = await tendril.listen({ port: 0, host: '127.0.0.1', mqttPort: 0 })
      url = `http://127.0.0.1:${ports.port}`
      mqttUrl = `mqtt://127.0.0.1:${ports.mqttPort}`
      const f = await fixture(core, { org: 'acme', users: { ann: {} }, controllers: ['acme/greenhouse/pi-1'] })
      piKey = f.controllers['acme/greenhouse/pi-1'].key
      piId = f.controllers['acme/greenhouse/pi-1'].id
      userKey = f.users.ann.key
    })
    after(async () => {
      endAll()
      await tendril.close()
      await core.cleanup()
      await smtp.close()
      await webhook.close()
    })

    const postMessage = (type: string, parameters: unknown, key = userKey) =>
      fetch(`${url}/api/v1/messages`, {
        method: 'POST',
        headers: { authorization: basicAuth(key), 'content-type': 'application/json' },
        body: JSON.stringify({ folder_path: '/acme/greenhouse', type, parameters }),
      })

    /** a controller of its own, so each test starts with an untouched throttle */
    const newController = async () => {
      const c = await createController(core, `acme/greenhouse/c-${++controllers}`)
      return { ...c, topic: `acme/greenhouse/c-${controllers}`, client: await connect(mqttUrl, c.key) }
    }

    test('send_email published by a controller over MQTT is delivered by SMTP and logged', async () => {
      const client = await connect(mqttUrl, piKey)
      client.publish(
        'acme/greenhouse/pi-1',
        JSON.stringify({
          send_email: { email_address: 'keeper@example.com', subject: 'Too hot', body: 'Greenhouse at 41 C' },
        }),
      )
      assert.ok(await eventually(() => smtp.mails.length === 1))
      assert.deepEqual(smtp.mails[0]!.to, ['keeper@example.com'])
      assert.match(smtp.mails[0]!.data, /Subject: Too hot/)
      assert.match(smtp.mails[0]!.data, /From: lab@example.com/)
      assert.match(smtp.mails[0]!.data, /Greenhouse at 41 C/)
      // the log entry is written once the SMTP exchange has completed, just after the server saw the mail
      assert.ok(await eventually(async () => (await core.db.outgoingMessage.count({ where: { kind: 'email' } })) === 1))
      const logged = await core.db.outgoingMessage.findMany({ where: { kind: 'email' } })
      assert.equal(logged[0]!.senderControllerId, piId)
    })

    test("rhizo's client form: emailAddresses with several addresses reaches each of them", async () => {
      const c = await newController()
      const before = smtp.mails.length
      // rhizo/messages.py send_email(email_addresses, subject, body) over MQTT
      c.client.publish(
        c.topic,
        JSON.stringify({
          send_email: { emailAddresses: 'keeper@example.com, night@example.com', subject: 'Door', body: 'Door open' },
        }),
      )
      assert.ok(await eventually(() => smtp.mails.length === before + 1))
      assert.deepEqual(smtp.mails.at(-1)!.to, ['keeper@example.com', 'night@example.com'])
      // and rhizo-server's snake_case name, with a list
      c.client.publish(
        c.topic,
        JSON.stringify({
          send_email: { email_addresses: ['a@example.com', 'b@example.com'], subject: 'Door', body: 'Closed' },
        }),
      )
      assert.ok(await eventually(() => smtp.mails.length === before + 2))
      assert.deepEqual(smtp.mails.at(-1)!.to, ['a@example.com', 'b@example.com'])
    })

    test('send_text_message over MQTT reaches the SMS webhook with {to, message}, once per number', async () => {
      const c = await newController()
      const before = webhook.received.length
      // rhizo/messages.py send_sms(phone_numbers, message) sends type send_text_message with phoneNumbers
      c.client.publish(
        c.topic,
        JSON.stringify({ send_text_message: { phoneNumbers: '+15551230001,+15551230002', message: 'Frost warning' } }),
      )
      assert.ok(await eventually(() => webhook.received.length === before + 2))
      assert.deepEqual(webhook.received.slice(before), [
        { to: '+15551230001', message: 'Frost warning' },
        { to: '+15551230002', message: 'Frost warning' },
      ])
      // logged once the webhook has answered, just after it saw the request
      const logged = () => core.db.outgoingMessage.findMany({ where: { kind: 'sms', senderControllerId: c.id } })
      assert.ok(await eventually(async () => (await logged()).length === 1))
      assert.deepEqual(
        (await logged()).map((m) => [m.recipients, m.body]),
        [['+15551230001,+15551230002', 'Frost warning']],
      )
    })

    test('send_sms over MQTT is the same as send_text_message', async () => {
      const c = await newController()
      const before = webhook.received.length
      c.client.publish(c.topic, JSON.stringify({ send_sms: { phone_number: '+15551230003', message: 'Pump stopped' } }))
      assert.ok(await eventually(() => webhook.received.length === before + 1))
      assert.deepEqual(webhook.received.at(-1), { to: '+15551230003', message: 'Pump stopped' })
    })

    test('send_text_message posted over REST reaches the SMS webhook', async () => {
      const before = webhook.received.length
      const res = await postMessage('send_text_message', { phone_number: '+15551234567', message: 'Door open' })
      assert.equal(res.status, 200)
      assert.deepEqual(webhook.received.slice(before), [{ to: '+15551234567', message: 'Door open' }])
    })

    test('a bad recipient is refused with 400 and nothing is sent', async () => {
      const before = smtp.mails.length
      const res = await postMessage('send_email', { email_address: 'not an address', subject: 's', body: 'b' })
      assert.equal(res.status, 400)
      assert.equal(smtp.mails.length, before)
    })

    test('more than five recipients are refused with 400, as rhizo allowed up to five', async () => {
      const { key } = await newController()
      const six = ['1', '2', '3', '4', '5', '6'].map((n) => `r${n}@example.com`)
      const before = smtp.mails.length
      const res = await postMessage('send_email', { emailAddresses: six, subject: 's', body: 'b' }, key)
      assert.equal(res.status, 400)
      assert.match(((await res.json()) as { message: string }).message, /1 to 5 email addresses/)
      assert.equal(
        (await postMessage('send_email', { emailAddresses: six.slice(0, 5), subject: 's', body: 'b' }, key)).status,
        200,
      )
      assert.equal(smtp.mails.length, before + 1)
    })

    test('a sender gets at most 10 emails an hour; the 11th is refused with 429', async () => {
      const before = smtp.mails.length
      for (let i = 0; i < 10; i++)
        assert.equal(
          (await postMessage('send_email', { email_address: 'a@example.com', subject: `n${i}`, body: '' })).status,
          200,
        )
      const eleventh = await postMessage('send_email', { email_address: 'a@example.com', subject: 'n10', body: '' })
      assert.equal(eleventh.status, 429)
      assert.equal(smtp.mails.length, before + 10)
    })

    test('text messages have their own limit of 10 an hour per sender', async () => {
      await createOrgUser(core, 'sms@example.com', 'long enough pw', 'acme', false)
      const key = (await createKeyForUser(core, 'sms@example.com', 'acme')).key
      const before = webhook.received.length
      for (let i = 0; i < 10; i++)
        assert.equal(
          (await postMessage('send_sms', { phone_number: '+15550000000', message: `n${i}` }, key)).status,
          200,
        )
      assert.equal(
        (await postMessage('send_text_message', { phone_number: '+15550000000', message: 'n10' }, key)).status,
        429,
        'send_sms and send_text_message share the limit',
      )
      assert.equal(webhook.received.length, before + 10)
      // emails are counted apart
      assert.equal(
        (await postMessage('send_email', { email_address: 'a@example.com', subject: 'still', body: '' }, key)).status,
        200,
      )
    })

    test('over MQTT the throttle holds too: of 12 emails a controller publishes, 10 go out', async () => {
      const c = await newController()
      const before = smtp.mails.length
      for (let i = 0; i < 12; i++)
        c.client.publish(
          c.topic,
          JSON.stringify({ send_email: { emailAddresses: 'flood@example.com', subject: `m${i}`, body: '' } }),
        )
      // the broker sends them one after another: once a later text message is out, all 12 were handled
      c.client.publish(
        c.topic,
        JSON.stringify({ send_sms: { phoneNumbers: '+15559999999', message: 'after the emails' } }),
      )
      assert.ok(await eventually(() => webhook.received.some((m) => m.message === 'after the emails'), 10_000))
      const subjects = smtp.mails.slice(before).map((m) => /Subject: (m\d+)/.exec(m.data)?.[1])
      assert.deepEqual(subjects, ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9'])
    })
  })
}

describe('outgoing messages without configuration', () => {
  test('email asked of a server without smtp-url is a clear 400', async () => {
    const core = await openTestCore('sqlite')
    const tendril = await createTendril(core)
    try {
      const { port } = await tendril.listen({ port: 0, host: '127.0.0.1', mqttPort: null })
      const key = (await fixture(core, { org: 'acme', users: { ann: {} } })).users.ann.key
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/messages`, {
        method: 'POST',
        headers: { authorization: basicAuth(key), 'content-type': 'application/json' },
        body: JSON.stringify({
          folder_path: '/acme',
          type: 'send_email',
          parameters: { email_address: 'a@example.com', subject: 's', body: 'b' },
        }),
      })
      assert.equal(res.status, 400)
      assert.match(((await res.json()) as { message: string }).message, /email is not configured/)
    } finally {
      await tendril.close()
      await core.cleanup()
    }
  })
})
