// A sequence value refused gets the same answer through every door (core/messages/values.ts
// writeSequenceValues): every REST door the same status and error code, MQTT its error message to
// the publisher and a log line, the JSON websocket an error frame. Three refusals: a read-only
// sequence, a missing one, and a numeric sequence sent a word.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createController, createKeyForUser, createOrg, createOrgUser } from '../../core/admin.ts'
import { createLogger } from '../../core/log.ts'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { grant } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { closeSockets, openSocket } from '../helpers/json-websocket.ts'
import { connect, endAll, granted, nextMessage } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const FORM = 'application/x-www-form-urlencoded'

interface Refusal {
  /** the sequence's absolute path, the folder messages are sent to, and the value */
  path: string
  value: string
  status: number
  code: string
  /** what the sender is told over MQTT and the websocket */
  reason: RegExp
}

for (const provider of providers) {
  describe(`a refused value, door by door, on ${provider}`, () => {
    let server: TestServer
    let annKey: string
    const warnings: { msg: string; reason?: string }[] = []

    before(async () => {
      const logger = createLogger(
        { logLevel: 'warn', logFormat: 'json' },
        { write: (line: string) => void warnings.push(JSON.parse(line)) },
      )
      server = await startTestServer(provider, { logger })
      await createOrg(server.core, 'acme')
      const piKey = (await createController(server.core, 'acme/lab/pi-1')).key
      const piR = (await createController(server.core, 'acme/readonly/pi-r')).key
      await createOrgUser(server.core, 'ann@example.com', 'long enough pw', 'acme', false)
      annKey = (await createKeyForUser(server.core, 'ann@example.com', 'acme')).key
      for (const [key, folder, name] of [
        [piKey, '/acme/lab/pi-1', 'temperature'],
        [piR, '/acme/readonly/pi-r', 'level'],
      ]) {
        const res = await fetch(`${server.url}/api/v1/resources`, {
          method: 'POST',
          headers: { authorization: basicAuth(key!), 'content-type': FORM },
          body: new URLSearchParams({ path: folder!, name: name!, type: '21', data_type: '1', decimal_places: '1' }),
        })
        assert.equal(res.status, 200)
      }
      // acme's users may only read /acme/readonly
      await grant(server.core, '/acme/readonly', [{ to: 'members', level: 'read' }])
    })
    after(async () => {
      closeSockets()
      endAll()
      await server.close()
    })

    const refusals: Record<string, Refusal> = {
      'a read-only sequence': {
        path: '/acme/readonly/pi-r/level',
        value: '1',
        status: 403,
        code: 'forbidden',
        reason: /no write access to \/acme\/readonly\/pi-r\/level/,
      },
      'a missing sequence': {
        path: '/acme/lab/pi-1/no_such',
        value: '1',
        status: 404,
        code: 'not_found',
        reason: /sequence not found: \/acme\/lab\/pi-1\/no_such/,
      },
      'a word for a number': {
        path: '/acme/lab/pi-1/temperature',
        value: 'warm',
        status: 400,
        code: 'invalid',
        reason: /\/acme\/lab\/pi-1\/temperature: .*number/,
      },
    }
    const stored = async (path: string) => {
      const sequence = (await findPath(server.core.db, path))?.at(-1)
      return sequence ? server.core.db.resourceRevision.count({ where: { resourceId: sequence.id } }) : 0
    }
    const request = (method: string, url: string, body: Record<string, string>) =>
      fetch(`${server.url}/api/v1${url}`, {
        method,
        headers: { authorization: basicAuth(annKey), 'content-type': FORM },
        body: new URLSearchParams(body),
      })

    for (const [what, r] of Object.entries(refusals)) {
      test(`${what}: every REST door answers ${r.status} ${r.code} and stores nothing`, async () => {
        const before = await stored(r.path)
        const doors: [string, Promise<Response>][] = [
          ['PUT the sequence (value lane)', request('PUT', `/resources${r.path}`, { value: r.value })],
          ['PUT the sequence (app)', request('PUT', `/resources${r.path}?via=app`, { value: r.value })],
          ['PUT several sequences', request('PUT', '/resources', { values: JSON.stringify({ [r.path]: r.value }) })],
          [
            'POST update_sequence',
            request('POST', '/messages', {
              folder_path: '/acme/lab/pi-1',
              type: 'update_sequence',
              parameters: JSON.stringify({ sequence: r.path, value: r.value }),
            }),
          ],
        ]
        // the legacy POST creates a file where nothing is
        if (r.status !== 404)
          doors.push(['POST the sequence', request('POST', `/resources${r.path}`, { value: r.value })])
        for (const [door, answer] of doors) {
          const res = await answer
          const body = (await res.json()) as { status: string; error?: { code: string } }
          assert.deepEqual(
            { door, status: res.status, code: body.error?.code, rhizo: body.status },
            { door, status: r.status, code: r.code, rhizo: 'error' },
          )
        }
        assert.equal(await stored(r.path), before)
      })

      test(`${what}: MQTT tells the publisher and logs it; the websocket sends an error frame`, async () => {
        const before = await stored(r.path)
        const pi = await connect(server.mqttUrl, annKey)
        await granted(pi, 'acme/lab/pi-1')
        const told = nextMessage(pi)
        pi.publish('acme/lab/pi-1', JSON.stringify({ update_sequence: { sequence: r.path, value: r.value } }), {
          qos: 1,
        })
        const error = JSON.parse((await told)!.payload) as { error: { message: string; sequence: string } }
        assert.match(error.error.message, r.reason)
        assert.equal(error.error.sequence, r.path)
        assert.ok(warnings.some((w) => w.msg === 'mqtt sequence value not stored' && r.reason.test(w.reason ?? '')))

        const ws = await openSocket(server.url, annKey)
        ws.send(
          JSON.stringify({
            type: 'update_sequence',
            folder: '/acme/lab/pi-1',
            parameters: { sequence: r.path, value: r.value },
          }),
        )
        const frame = await ws.next(2000, 'error')
        assert.match(String(frame?.parameters.message), new RegExp(`^not stored: ${r.reason.source}`))
        assert.equal(await stored(r.path), before)
      })
    }
  })
}
