// Issue 21, "disk full": a real `tendril serve` with --data-dir on a small tmpfs (SQLite: database and
// blobs there; PostgreSQL: the blobs), while controllers publish numbered QoS 1 values, uploaders write
// file revisions, image values and values over REST, a JSON websocket sends values and a reader reads;
// a filler file takes the disk's last byte for --full-ms, then it and a ballast file written at the
// start are deleted (space returns, more than the writers fill meanwhile). Then the server is SIGKILLed
// right after a burst of writes, the disk filled again and the server started on it. Needs root (mount).
// Exit 1 on any loss, a 500 or an answer without an error code, a crash, or no recovery.
//   node --import tsx bench/faults/disk-full.ts [--size-mb 128] [--ballast-mb 48] [--controllers 20]
//   [--uploaders 4] [--file-kb 128] [--full-ms 20000] [--steady-ms 5000] [--only sqlite|postgresql]
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { diskFullScenario, type DiskFullResult } from '../../test/helpers/disk-full.ts'
import { startBenchPostgres } from '../lib/postgres.ts'
import { machine } from '../lib/stats.ts'

const { values: args } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '128' },
    controllers: { type: 'string', default: '20' },
    uploaders: { type: 'string', default: '4' },
    'file-kb': { type: 'string', default: '128' },
    'full-ms': { type: 'string', default: '20000' },
    'steady-ms': { type: 'string', default: '5000' },
    'ballast-mb': { type: 'string', default: '48' },
    only: { type: 'string' },
  },
})

console.log(machine())
const pg = await startBenchPostgres()
let failed = false
try {
  for (const provider of (['sqlite', 'postgresql'] as const).filter((p) => !args.only || p === args.only)) {
    console.log(
      `\n${provider}, data dir on a ${args['size-mb']} MB tmpfs: ${args.controllers} controllers (QoS 1), ` +
        `${args.uploaders} uploaders (${args['file-kb']} KB files, images, values), a websocket, a reader; ` +
        `full for ${args['full-ms']} ms`,
    )
    const started = Date.now()
    const r = await diskFullScenario({
      provider,
      sizeMb: Number(args['size-mb']),
      controllers: Number(args.controllers),
      uploaders: Number(args.uploaders),
      fileBytes: Number(args['file-kb']) * 1024,
      fullMs: Number(args['full-ms']),
      steadyMs: Number(args['steady-ms']),
      ballastMb: Number(args['ballast-mb']),
      log: (line) => console.log(`  ${line}`),
    })
    print(r)
    const load = loadavg().map((l) => l.toFixed(1))
    console.log(`  in ${((Date.now() - started) / 1000).toFixed(0)} s, load average ${load.join(' ')}`)
    const failures = problems(provider, r)
    console.log(failures.length ? `  FAIL:\n    ${failures.join('\n    ')}` : '  OK')
    if (failures.length) failed = true
  }
} finally {
  await pg.stop()
}
console.log(failed ? '\nFAIL: see above' : '\nOK: refused while full, nothing acknowledged lost, recovered')
process.exit(failed ? 1 : 0)

function print(r: DiskFullResult): void {
  console.log(
    `  MQTT: ${r.mqtt.acknowledged} values acknowledged, lost ${r.mqtt.lost.length} ${r.mqtt.lost.slice(0, 10).join(' ')}`,
  )
  console.log(
    `  REST: ${r.rest.acknowledged} uploads acknowledged, lost ${r.rest.lost.length} ${r.rest.lost.slice(0, 10).join(' ')}`,
  )
  console.log(
    `  REST refusals: ${JSON.stringify(r.rest.refusals)}; bad answers ${r.rest.badAnswers.length} ${r.rest.badAnswers.slice(0, 3).join(' | ')}`,
  )
  console.log(`  JSON websocket error frames: ${JSON.stringify(r.socketErrors)}`)
  console.log(`  while full: ${JSON.stringify(r.full)}; "the disk is full" logged for ${r.diskFullDoors.join(', ')}`)
  console.log(
    `  log while full: ${r.logLinesPerSecondFull} lines/s, ${r.logBytesPerSecondFull} bytes/s ${JSON.stringify(r.logWhileFull)}`,
  )
  for (const line of Object.values(r.logExamples)) console.log(`    ${line}`)
  console.log(
    `  a full disk logged as something else: ${r.unrecognized.length} ${r.unrecognized.slice(0, 3).join(' | ')}`,
  )
  console.log(`  connected after space returned, shown disconnected: ${r.shownDisconnected.join(' ') || 'none'}`)
  console.log(`  restart on a full disk: ${JSON.stringify(r.startupFull)}`)
  console.log(
    `  stray files in the data dir: ${r.strayFiles.join(', ') || 'none'}; integrity_check: ${r.integrity}; blobs ${JSON.stringify(r.blobs)}; crashed: ${r.serverCrashed}`,
  )
}

function problems(provider: 'sqlite' | 'postgresql', r: DiskFullResult): string[] {
  const sqlite = provider === 'sqlite'
  const out: string[] = []
  if (r.mqtt.lost.length) out.push(`${r.mqtt.lost.length} PUBACKed values lost`)
  if (r.rest.lost.length) out.push(`${r.rest.lost.length} acknowledged uploads lost or unreadable`)
  if (r.unrecognized.length) out.push(`${r.unrecognized.length} log lines with a full disk's error not said as such`)
  if (Object.keys(r.socketErrors).some((m) => !m.includes('disk is full')))
    out.push(`JSON websocket refusals: ${JSON.stringify(r.socketErrors)}`)
  if (r.rest.badAnswers.length) out.push(`${r.rest.badAnswers.length} refusals were a 500 or had no error code`)
  if (!Object.keys(r.rest.refusals).some((k) => k.endsWith('disk_full')))
    out.push('no REST write was refused as disk_full')
  if (!r.diskFullDoors.includes('rest') || (sqlite && !r.diskFullDoors.includes('mqtt')))
    out.push(`"the disk is full" logged only for ${r.diskFullDoors.join(', ') || 'nothing'}`)
  if (r.full.readsWhileFull.failed || !r.full.readsWhileFull.ok) out.push('reads failed while the disk was full')
  if (r.full.recoveredAfterMs === null) out.push('writes did not succeed again after space returned')
  const s = r.startupFull
  if (!s.started || !s.readOk || !s.writesAfterSpace || !s.writeRefusal.startsWith('507'))
    out.push(`restart on a full disk: ${JSON.stringify(s)}`)
  if (r.strayFiles.length) out.push(`files in the data dir: ${r.strayFiles.join(', ')}`)
  if (r.blobs.missing || r.blobs.temp) out.push(`blob store: ${JSON.stringify(r.blobs)}`)
  if (r.shownDisconnected.length) out.push(`connected controllers shown disconnected: ${r.shownDisconnected.join(' ')}`)
  if (sqlite && r.integrity !== 'ok') out.push(`integrity_check: ${r.integrity}`)
  if (r.serverCrashed) out.push('the server exited')
  return out
}
