// Child process of bench/rest-sequences.ts: one keep-alive HTTP client writing sequence values one
// request at a time (PUT /api/v1/resources/<path> with rhizo's base64 `data` and a timestamp), as a
// controller does. The client is autocannon with one connection and no pipelining: a lean load
// generator, so that what is measured is the server (node:http's own client took about half the
// round trip against a bare server).
import autocannon from 'autocannon'
import { serveJobs } from './worker.ts'

export interface WriteJob {
  /** http://host:port */
  url: string
  key: string
  path: string
  /** how long to write for (autocannon's amount only stops on its one-second tick, which skewed the rate) */
  seconds: number
}

export interface WriteResult {
  /** requests answered 200 */
  ok: number
  /** requests answered otherwise, failed or timed out */
  failed: number
  ms: number
}

async function run(job: WriteJob): Promise<WriteResult> {
  const base = Date.UTC(2020, 0, 1)
  let i = 0
  const started = performance.now()
  const result = await autocannon({
    url: job.url,
    connections: 1,
    pipelining: 1,
    duration: job.seconds,
    timeout: 30,
    requests: [
      {
        method: 'PUT',
        path: `/api/v1/resources${job.path}`,
        headers: {
          authorization: 'Basic ' + Buffer.from(`bench:${job.key}`).toString('base64'),
          'content-type': 'application/x-www-form-urlencoded',
        },
        // a distinct value and timestamp each time
        setupRequest: (request) => {
          const n = i++
          const data = Buffer.from(String((n % 1000) / 10)).toString('base64')
          return {
            ...request,
            body: `data=${encodeURIComponent(data)}&timestamp=${encodeURIComponent(new Date(base + n * 1000).toISOString())}`,
          }
        },
      },
    ],
  })
  const ms = performance.now() - started
  return {
    ok: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
    ms: Math.min(ms, result.duration * 1000),
  }
}

serveJobs<WriteJob, WriteResult>(run)
