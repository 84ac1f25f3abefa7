// Memory of a Tendril server while a large file goes up (multipart) and comes back down through
// /api/v1/resources: uploads stream into the blob store and downloads stream out of it, so the peak
// should stay near the idle figure (target: peak < 2 × idle + 20 MiB), whatever the file size.
// The server is a separate `tendril serve` process; its RSS is polled from /proc and its high-water
// mark (VmHWM) read after each phase, reset between phases through /proc/<pid>/clear_refs.
//   node --import tsx bench/rest-files.ts [--mib 50] [--rounds 3]
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { parseArgs } from 'node:util'
import { basicAuth } from '../test/helpers/http.ts'
import { runJson, startServer } from '../test/helpers/cli.ts'
import { fmt, machine, median, printTable, sleep } from './lib/stats.ts'

const { values: args } = parseArgs({
  options: { mib: { type: 'string', default: '50' }, rounds: { type: 'string', default: '3' } },
})
const SIZE = Number(args.mib) * 1024 * 1024
const ROUNDS = Number(args.rounds)
const MiB = 1024 * 1024

const status = (pid: number, field: 'VmRSS' | 'VmHWM') => {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Number(match[1]) * 1024 : NaN
}
const resetPeak = (pid: number) => writeFileSync(`/proc/${pid}/clear_refs`, '5')

interface Phase {
  /** RSS when the phase started */
  before: number
  /** highest RSS during it (sampled or VmHWM) */
  peak: number
}

/** Runs work while sampling the server's RSS every 10 ms. */
async function peakDuring(pid: number, work: () => Promise<void>): Promise<Phase> {
  resetPeak(pid)
  const before = status(pid, 'VmRSS')
  let peak = before
  const timer = setInterval(() => (peak = Math.max(peak, status(pid, 'VmRSS'))), 10)
  try {
    await work()
  } finally {
    clearInterval(timer)
  }
  return { before, peak: Math.max(peak, status(pid, 'VmHWM')) }
}

async function main() {
  console.log(machine())
  console.log(
    `file: ${fmt(SIZE / MiB)} MiB, ${ROUNDS} rounds; server: tendril serve (SQLite, fs blob store), upload limit 64 MiB`,
  )
  const dataDir = mkdtempSync(join(tmpdir(), 'tendril-bench-files-'))
  const storage = ['--data-dir', dataDir, '--bcrypt-cost', '4', '--log-level', 'warn']
  const server = await startServer([...storage, '--log-level', 'info'])
  try {
    await runJson(['create-org', 'acme', ...storage])
    await runJson(['create-user', 'ann@example.com:long enough pw', '--org', 'acme', ...storage])
    const { key } = await runJson<{ key: string }>([
      'create-key',
      '--user',
      'ann@example.com',
      '--org',
      'acme',
      ...storage,
    ])
    const auth = { authorization: basicAuth(key) }
    const api = `${server.url}/api/v1/resources`
    const pid = server.child.pid!
    const bytes = randomBytes(SIZE)
    const hash = createHash('sha256').update(bytes).digest('hex')
    // warm up: the routes, the database and the blob store have been used once before measuring idle
    const warm = new FormData()
    warm.append('path', '/acme/bench')
    warm.append('file', new Blob([new Uint8Array(randomBytes(4096))]), 'warm.bin')
    if ((await fetch(api, { method: 'POST', headers: auth, body: warm })).status !== 200)
      throw new Error('warm-up upload failed')
    await (await fetch(`${api}/acme/bench/warm.bin`, { headers: auth })).arrayBuffer()
    await sleep(2000)
    const idle = status(pid, 'VmRSS')
    const rows: { upload: Phase; download: Phase }[] = []
    for (let round = 1; round <= ROUNDS; round++) {
      const name = `big-${round}.bin`
      const upload = await peakDuring(pid, async () => {
        const form = new FormData()
        form.append('path', '/acme/bench')
        form.append('file', new Blob([new Uint8Array(bytes)]), name)
        const res = await fetch(api, { method: 'POST', headers: auth, body: form })
        if (res.status !== 200) throw new Error(`upload answered ${res.status}: ${await res.text()}`)
      })
      const download = await peakDuring(pid, async () => {
        const res = await fetch(`${api}/acme/bench/${name}`, { headers: auth })
        const digest = createHash('sha256')
        for await (const chunk of Readable.fromWeb(res.body as never)) digest.update(chunk as Buffer)
        if (digest.digest('hex') !== hash) throw new Error('the downloaded bytes differ from the upload')
      })
      rows.push({ upload, download })
      console.log(
        `round ${round}: upload ${fmt(upload.before / MiB)} → peak ${fmt(upload.peak / MiB)} MiB, download ${fmt(download.before / MiB)} → peak ${fmt(download.peak / MiB)} MiB`,
      )
    }
    // for contrast: a base64 JSON body (rhizo's `data` field) is parsed whole by design
    const buffered = await peakDuring(pid, async () => {
      const res = await fetch(api, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ path: '/acme/bench', name: 'base64.bin', type: 20, data: bytes.toString('base64') }),
      })
      if (res.status !== 200) throw new Error(`base64 upload answered ${res.status}: ${await res.text()}`)
    })
    const target = 2 * idle + 20 * MiB
    const row = (label: string, phases: Phase[]) => {
      const peak = median(phases.map((p) => p.peak))
      const growth = median(phases.map((p) => p.peak - p.before))
      return [
        label,
        fmt(median(phases.map((p) => p.before)) / MiB),
        fmt(peak / MiB),
        fmt(growth / MiB),
        peak < target ? 'under' : 'OVER',
      ]
    }
    console.log()
    console.log(
      `idle RSS after warm-up: ${fmt(idle / MiB)} MiB; target for every peak: 2 × idle + 20 MiB = ${fmt(target / MiB)} MiB`,
    )
    printTable(
      ['server RSS, MiB (median of rounds)', 'before', 'peak', 'growth', 'vs target'],
      [
        row(
          `${fmt(SIZE / MiB)} MiB multipart upload`,
          rows.map((r) => r.upload),
        ),
        row(
          `${fmt(SIZE / MiB)} MiB download`,
          rows.map((r) => r.download),
        ),
        row('for contrast: the same file as base64 JSON (parsed whole by design; one run)', [buffered]),
      ],
    )
  } finally {
    await server.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

await main()
