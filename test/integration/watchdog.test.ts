// Watchdog notices: a controller whose watchdog goes stale is reported offline to its folder's
// watchdog_recipients (email for addresses, SMS for numbers), once per outage — also when the SMTP
// server or the SMS webhook refused the first try — and the periodic job of `tendril serve` sends them.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createController, createOrg } from '../../core/admin.ts'
import { openCore } from '../../core/index.ts'
import { loadConfig } from '../../core/config.ts'
import { createLogger } from '../../core/log.ts'
import { recordWatchdog } from '../../core/resources/controller-status.ts'
import { notifyStaleWatchdogs } from '../../core/resources/watchdog.ts'
import { startServer } from '../helpers/cli.ts'
import { openTestCore, providers, type TestCore } from '../helpers/core.ts'
import { eventually } from '../helpers/http.ts'
import { connect, endAll } from '../helpers/mqtt.ts'
import { startSmtp, startWebhook, type TestSmtp, type TestWebhook } from '../helpers/outbox.ts'

const tenMinutesAgo = () => new Date(Date.now() - 10 * 60_000)

for (const provider of providers) {
  describe(`watchdog notices on ${provider}`, () => {
    let smtp: TestSmtp
    let webhook: TestWebhook
    let core: TestCore
    let controllers = 0

    before(async () => {
      smtp = await startSmtp()
      webhook = await startWebhook()
      core = await openTestCore(provider, { 'smtp-url': smtp.url, 'sms-webhook': webhook.url })
      await createOrg(core, 'acme')
    })
    after(async () => {
      endAll()
      await core?.cleanup()
      await smtp?.close()
      await webhook?.close()
    })

    /** a controller folder watched by recipients, last heard of ten minutes ago (limit: 5 minutes) */
    const staleController = async (recipients: string) => {
      const path = `acme/greenhouse/pi-${++controllers}`
      const { id } = await createController(core, path)
      await core.db.resource.update({
        where: { id },
        data: { systemAttributes: { watchdog_minutes: 5, watchdog_recipients: recipients } },
      })
      await recordWatchdog(core.db, id, tenMinutesAgo())
      return { id, path }
    }
    const mailsTo = (address: string) => smtp.mails.filter((m) => m.to.includes(address))
    const textsTo = (number: string) => webhook.received.filter((m) => m.to === number)

    test('a stale watchdog sends one notice per outage, and a new watchdog re-arms it', async () => {
      const { id, path } = await staleController('night@example.com')
      assert.equal(await notifyStaleWatchdogs(core), 1)
      assert.equal(await notifyStaleWatchdogs(core), 0, 'one notice per outage')
      assert.equal(mailsTo('night@example.com').length, 1)
      assert.ok(
        mailsTo('night@example.com')[0]!.data.includes(`Subject: /${path} is offline`),
        'rhizo\'s subject: the path and "is offline"',
      )
      await recordWatchdog(core.db, id) // back alive
      assert.equal(await notifyStaleWatchdogs(core), 0, 'fresh watchdog: nothing to say')
      await recordWatchdog(core.db, id, tenMinutesAgo()) // and gone again
      assert.equal(await notifyStaleWatchdogs(core), 1)
      assert.equal(mailsTo('night@example.com').length, 2)
    })

    test('a controller that never sent a watchdog message is not reported (rhizo: it is being set up)', async () => {
      const { id } = await createController(core, `acme/greenhouse/new-${++controllers}`)
      await core.db.resource.update({
        where: { id },
        data: { systemAttributes: { watchdog_minutes: 5, watchdog_recipients: 'setup@example.com' } },
      })
      await core.db.controllerStatus.upsert({
        where: { controllerId: id },
        create: { controllerId: id, connected: true },
        update: { connected: true },
      })
      assert.equal(await notifyStaleWatchdogs(core), 0)
      assert.equal(mailsTo('setup@example.com').length, 0)
    })

    test('a notice the SMTP server refused is sent on a later run, and only once', async () => {
      await staleController('refused@example.com')
      smtp.refuseNext(1)
      assert.equal(await notifyStaleWatchdogs(core), 0, 'the first try fails')
      assert.equal(mailsTo('refused@example.com').length, 0)
      assert.equal(await notifyStaleWatchdogs(core), 1, 'the next run sends it')
      assert.equal(await notifyStaleWatchdogs(core), 0)
      assert.equal(mailsTo('refused@example.com').length, 1)
    })

    test('numbers among the recipients get the notice by SMS; a failed SMS is retried without emailing the others again', async () => {
      const { path } = await staleController('both@example.com, +15557770001')
      webhook.failNext(1)
      assert.equal(await notifyStaleWatchdogs(core), 0)
      assert.equal(mailsTo('both@example.com').length, 1, 'the email went out')
      assert.equal(textsTo('+15557770001').length, 0)
      assert.equal(await notifyStaleWatchdogs(core), 1)
      assert.equal(await notifyStaleWatchdogs(core), 0)
      assert.equal(mailsTo('both@example.com').length, 1, 'no second email')
      assert.equal(textsTo('+15557770001').length, 1)
      assert.ok(textsTo('+15557770001')[0]!.message.startsWith(`/${path} is offline`))
      const logged = await core.db.outgoingMessage.findMany({
        where: { kind: 'watchdog', recipients: { in: ['both@example.com', '+15557770001'] } },
      })
      assert.equal(logged.length, 2)
    })

    test('two instances checking at the same moment send one notice', async () => {
      await staleController('once@example.com')
      const other = await openCore(
        loadConfig({
          flags: { db: core.config.database.url, 'data-dir': core.config.dataDir, 'smtp-url': smtp.url },
          env: {},
        }),
        createLogger({ logLevel: 'silent', logFormat: 'json' }),
      )
      try {
        const counts = await Promise.all([
          notifyStaleWatchdogs(core),
          notifyStaleWatchdogs(other),
          notifyStaleWatchdogs(core),
          notifyStaleWatchdogs(other),
        ])
        assert.equal(
          counts.reduce((a, b) => a + b),
          1,
        )
        assert.equal(mailsTo('once@example.com').length, 1)
      } finally {
        await other.close()
      }
    })

    test('`tendril serve` runs the check every --watchdog-interval: a controller that goes quiet over MQTT is reported, once per outage', async () => {
      const path = `acme/greenhouse/served-${++controllers}`
      const { id, key } = await createController(core, path)
      // 0.02 minutes: stale 1.2 s after the last watchdog message
      await core.db.resource.update({
        where: { id },
        data: { systemAttributes: { watchdog_minutes: 0.02, watchdog_recipients: 'served@example.com,+15557770002' } },
      })
      const server = await startServer([
        '--db',
        core.config.database.url,
        '--data-dir',
        core.config.dataDir,
        '--smtp-url',
        smtp.url,
        '--sms-webhook',
        webhook.url,
        '--watchdog-interval',
        '200',
      ])
      try {
        const client = await connect(`ws://127.0.0.1:${server.port}/mqtt`, key)
        client.publish(path, JSON.stringify({ watchdog: {} }))
        assert.ok(
          await eventually(
            () => mailsTo('served@example.com').length === 1 && textsTo('+15557770002').length === 1,
            20_000,
          ),
          server.output(),
        )
        // alive again, then quiet again: a second outage, a second notice
        client.publish(path, JSON.stringify({ watchdog: {} }))
        assert.ok(
          await eventually(
            async () =>
              (await core.db.controllerStatus.findUnique({ where: { controllerId: id } }))?.watchdogNotificationSent ===
              false,
            10_000,
          ),
        )
        assert.ok(await eventually(() => mailsTo('served@example.com').length === 2, 20_000), server.output())
        // and no more while it stays quiet
        await new Promise((r) => setTimeout(r, 1000))
        assert.equal(mailsTo('served@example.com').length, 2)
        assert.equal(textsTo('+15557770002').length, 2)
        client.end(true)
      } finally {
        assert.equal((await server.stop()).code, 0)
      }
    })
  })
}
