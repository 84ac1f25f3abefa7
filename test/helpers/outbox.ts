// Where Tendril's emails and text messages go in tests: a real SMTP server (smtp-server) and a real
// HTTP server standing in for the SMS webhook, both on free loopback ports, either able to refuse
// the next few deliveries the way a server that is down or overloaded does.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'

export interface Mail {
  to: string[]
  data: string
}

export interface TestSmtp {
  url: string
  mails: Mail[]
  /** the next n mails are refused with 451 (try again later) before their data is sent */
  refuseNext(n: number): void
  close(): Promise<void>
}

export function startSmtp(): Promise<TestSmtp> {
  const mails: Mail[] = []
  let refusals = 0
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onMailFrom(_address, _session, callback) {
      if (refusals === 0) return callback()
      refusals--
      callback(Object.assign(new Error('mailbox busy, try again later'), { responseCode: 451 }))
    },
    onData(stream, session, callback) {
      let data = ''
      stream.on('data', (chunk: Buffer) => (data += chunk))
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), data })
        callback()
      })
    },
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
        mails,
        refuseNext: (n) => void (refusals = n),
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    ),
  )
}

export interface TestWebhook {
  url: string
  /** the JSON bodies of the deliveries it accepted */
  received: { to: string; message: string }[]
  /** the next n deliveries are answered 503 */
  failNext(n: number): void
  close(): Promise<void>
}

export function startWebhook(): Promise<TestWebhook> {
  const received: TestWebhook['received'] = []
  let failures = 0
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c))
    req.on('end', () => {
      if (failures > 0) {
        failures--
        res.statusCode = 503
        return res.end('unavailable')
      }
      received.push(JSON.parse(body) as TestWebhook['received'][number])
      res.end('ok')
    })
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`,
        received,
        failNext: (n) => void (failures = n),
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections() // fetch keeps connections alive
          }),
      }),
    ),
  )
}
