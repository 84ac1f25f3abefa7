// Child process of bench/rest-sequences.ts: one keep-alive HTTP client writing sequence values one
// request at a time (PUT /api/v1/resources/<path> with rhizo's base64 `data`), as a controller does.
import http from 'node:http'
import { serveJobs } from './worker.ts'

export interface WriteJob {
  /** http://host:port */
  url: string
  key: string
  path: string
  values: number
}

export interface WriteResult {
  sent: number
  failed: number
  ms: number
}

async function run(job: WriteJob): Promise<WriteResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const target = new URL(`/api/v1/resources${job.path}`, job.url)
  const authorization = 'Basic ' + Buffer.from(`bench:${job.key}`).toString('base64')
  const base = Date.UTC(2020, 0, 1)
  const put = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(target, { method: 'PUT', agent, headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.end(body)
    })
  let failed = 0
  const started = performance.now()
  for (let i = 0; i < job.values; i++) {
    const data = Buffer.from(String((i % 1000) / 10)).toString('base64')
    const body = `data=${encodeURIComponent(data)}&timestamp=${encodeURIComponent(new Date(base + i * 1000).toISOString())}`
    if ((await put(body)) !== 200) failed++
  }
  const ms = performance.now() - started
  agent.destroy()
  return { sent: job.values, failed, ms }
}

serveJobs<WriteJob, WriteResult>(run)
