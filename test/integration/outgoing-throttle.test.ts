// rhizo's throttle on emails and text messages, 10 per hour per sender and kind, under concurrency:
// simultaneous REST calls, and two instances over one database, never get an 11th message out.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createKeyForUser, createOrg, createOrgUser } from '../../core/admin.ts'
import { attemptOutgoing, THROTTLE } from '../../core/messages/outgoing-throttle.ts'
import { providers } from '../helpers/core.ts'
import { basicAuth } from '../helpers/http.ts'
import { startSmtp, startWebhook, type TestSmtp, type TestWebhook } from '../helpers/outbox.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

for (const provider of providers) {
  describe(`the outgoing throttle on ${provider}`, () => {
    let smtp: TestSmtp
    let webhook: TestWebhook
    let a: TestServer
    let b: TestServer
    let users = 0

    before(async () => {
      smtp = await startSmtp()
      webhook = await startWebhook()
      const config = { 'smtp-url': smtp.url, 'sms-webhook': webhook.url }
      a = await startTestServer(provider, { config })
      b = await startTestServer(provider, { config, databaseUrl: a.databaseUrl })
      await createOrg(a.core, 'acme')
    })
    after(async () => {
      await b?.close() // first: a's data dir holds the SQLite file
      await a?.close()
      await smtp?.close()
      await webhook?.close()
    })

    const newUserKey = async () => {
      const email = `user${++users}@example.com`
      await createOrgUser(a.core, email, 'long enough pw', 'acme', false)
      return (await createKeyForUser(a.core, email, 'acme')).key
    }
    const post = (server: TestServer, key: string, type: string, parameters: unknown) =>
      fetch(`${server.url}/api/v1/messages`, {
        method: 'POST',
        headers: { authorization: basicAuth(key), 'content-type': 'application/json' },
        body: JSON.stringify({ folder_path: '/acme', type, parameters }),
      })

    test('twenty simultaneous requests of one user send exactly 10 emails; the rest are refused with 429', async () => {
      const key = await newUserKey()
      const before = smtp.mails.length
      const statuses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          post(a, key, 'send_email', { emailAddresses: 'rush@example.com', subject: `r${i}`, body: '' }).then(
            (r) => r.status,
          ),
        ),
      )
      assert.deepEqual(
        statuses.toSorted((x, y) => x - y),
        [...Array<number>(10).fill(200), ...Array<number>(10).fill(429)],
      )
      assert.equal(smtp.mails.length, before + 10)
    })

    test('two instances on one database together send exactly 10 of one sender’s text messages', async () => {
      const key = await newUserKey()
      const before = webhook.received.length
      const statuses = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          post(i % 2 ? a : b, key, 'send_text_message', { phoneNumbers: '+15551110000', message: `t${i}` }).then(
            (r) => r.status,
          ),
        ),
      )
      assert.equal(statuses.filter((s) => s === 200).length, 10)
      assert.equal(statuses.filter((s) => s === 429).length, 14)
      assert.equal(webhook.received.length, before + 10)
    })

    test('refused attempts count as in rhizo: a sender that keeps trying stays refused until it pauses for an hour', async () => {
      const db = a.core.db
      const hour = THROTTLE.windowMs
      const t0 = Date.UTC(2026, 0, 1, 12)
      for (let i = 0; i < 10; i++)
        assert.equal(await attemptOutgoing(db, 'email', 'controller:keeps-trying', t0 + i), true)
      assert.equal(
        await attemptOutgoing(db, 'email', 'controller:keeps-trying', t0 + 60_000),
        false,
        'the 11th within the hour',
      )
      // ten more tries half an hour later, all refused ...
      for (let i = 0; i < 10; i++)
        assert.equal(await attemptOutgoing(db, 'email', 'controller:keeps-trying', t0 + hour / 2 + i), false)
      // ... so an hour after the first ten, the tries of the past hour still fill the limit
      assert.equal(await attemptOutgoing(db, 'email', 'controller:keeps-trying', t0 + hour + 60_000), false)
      // after a quiet hour it may send again
      assert.equal(await attemptOutgoing(db, 'email', 'controller:keeps-trying', t0 + 2 * hour + 120_000), true)
      // other senders, and the other kind, were never affected
      assert.equal(await attemptOutgoing(db, 'sms', 'controller:keeps-trying', t0 + 60_000), true)
      assert.equal(await attemptOutgoing(db, 'email', 'user:someone-else', t0 + 60_000), true)
    })
  })
}
