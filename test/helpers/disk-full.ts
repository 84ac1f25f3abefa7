// Fault scenario "disk full" (issue 21), shared by bench/faults/disk-full.ts and its short test: a real
// `tendril serve` with its data dir on a small tmpfs (SQLite: database and blobs; PostgreSQL: blobs)
// while controllers publish numbered QoS 1 values and the writers of disk-full-writers.ts write over REST
// and the JSON websocket. A filler takes the disk's last byte, then goes with a ballast file; then the
// server is SIGKILLed, the disk filled again, and the server started on it (WAL replay on a full disk).
import { randomBytes } from 'node:crypto'
import { readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../core/config.ts'
import { openCore } from '../../core/index.ts'
import { createLogger } from '../../core/log.ts'
import { createResource, createSequence } from '../../core/resources/tree.ts'
import { ResourceType, SequenceDataType } from '../../core/resources/types.ts'
import { sharedPostgres } from '../harness/postgres.ts'
import { startServer, startServerWithMqtt, type RunningServer } from './cli.ts'
import type { Provider } from './core.ts'
import {
  checkUploads,
  checkValues,
  presenceShown,
  readLoop,
  socketLoop,
  uploadLoop,
  waitingFor,
  type DoorFigures,
  type Uploader,
  type Writer,
} from './disk-full-writers.ts'
import { basicAuth, eventually } from './http.ts'
import { connect, integrityCheck, provision as provisionControllers, publishLoop } from './kill-ingest.ts'
import { fileSize, fillDisk, freeBytes, mountTmpfs } from './tmpfs.ts'

export type { DoorFigures }

export interface DiskFullOptions {
  /** sqlite: database and blobs on the tmpfs; postgresql: only the blobs (the database elsewhere) */
  provider: Provider
  /** size of the tmpfs holding --data-dir */
  sizeMb: number
  /** MQTT controllers publishing numbered QoS 1 values, one in flight each */
  controllers: number
  /** of them, how many also write file revisions and image values over REST */
  uploaders: number
  /** bytes of a file revision (random, so each goes to the blob store once) */
  fileBytes: number
  /** how long the disk stays full before the filler is deleted */
  fullMs: number
  /** how long everyone writes before the disk fills */
  steadyMs: number
  /** a file taking this much from the start, deleted with the filler: room for the writes after space returns */
  ballastMb: number
  log?: (line: string) => void
}

export interface PhaseFigures {
  /** acknowledged writes while the filler held the disk (the WAL may still take a few) */
  writesAcknowledgedWhileFull: number
  /** REST answers while full, by status */
  readsWhileFull: { ok: number; failed: number }
  /** MQTT connections the server closed (a PUBLISH not stored: no PUBACK) while full */
  mqttClosedWhileFull: number
  /** ms from deleting the filler until every writer had a write acknowledged again */
  recoveredAfterMs: number | null
}

export interface DiskFullResult {
  mqtt: DoorFigures
  rest: DoorFigures
  full: PhaseFigures
  /** controllers connected after space returned (one connected while full) that their status shows disconnected */
  shownDisconnected: string[]
  /** the restart on a full disk after SIGKILL: listening, reading, refusing, then writing after space returned */
  startupFull: {
    started: boolean
    readOk: boolean
    writeRefusal: string
    writesAfterSpace: boolean
    walBytes: number
    /** its log lines (info and above) while the disk was full, by message */
    log: Record<string, number>
  }
  /** log lines at info and above while the disk was full, by message; and all lines per second while full */
  logWhileFull: Record<string, number>
  logExamples: Record<string, string>
  /** error frames the JSON websocket answered values with, by message */
  socketErrors: Record<string, number>
  /** the doors ("rest", "mqtt", …) that logged "the disk is full" while it was */
  diskFullDoors: string[]
  /** log lines (anywhere in the run) that carry a full disk's error but not as a full disk: must be none */
  unrecognized: string[]
  logLinesPerSecondFull: number
  logBytesPerSecondFull: number
  /** files in the data dir other than the database, its WAL/SHM and blobs (a log file would show here) */
  strayFiles: string[]
  /** SQLite's integrity_check ('' on PostgreSQL) */
  integrity: string
  /** blob store after the run: temp files left (a partial blob), referenced blobs missing, blobs nothing refers to */
  blobs: { temp: number; missing: number; unreferenced: number }
  serverCrashed: boolean
}

/** how long everyone writes on after space returned and every writer was acknowledged again */
const AFTER_MS = 2000

export async function diskFullScenario(options: DiskFullOptions): Promise<DiskFullResult> {
  const log = options.log ?? (() => {})
  const disk = mountTmpfs(options.sizeMb)
  let server: RunningServer | undefined
  const writers: Writer[] = []
  try {
    const dataDir = join(disk.dir, 'data')
    const ballast = join(disk.dir, 'ballast')
    writeFileSync(ballast, Buffer.alloc(options.ballastMb << 20, 0x55))
    const db = options.provider === 'sqlite' ? [] : ['--db', await (await sharedPostgres()).createDatabase()]
    // and one more, acme/c-<controllers>, that connects only halfway through the full disk, and stays
    const all = await provision([...db, '--data-dir', dataDir], options.controllers + 1)
    const keys = all.slice(0, -1)
    server = await startServerWithMqtt([...db, '--data-dir', dataDir])
    const mqttPort = server.mqttPort!
    const args = [...db, '--data-dir', dataDir, '--mqtt-port', String(mqttPort)] // a restart keeps the address
    const killServer = () => server?.child.kill('SIGKILL') // also when the scenario is interrupted
    process.once('exit', killServer)
    const lines = collectLines(server)
    const uploaders: Uploader[] = keys
      .slice(0, options.uploaders)
      .map((key, i) => ({ key, path: `acme/c-${i}`, acked: new Map(), lastAckAt: 0 }))
    const rest: DoorFigures = { acknowledged: 0, lost: [], refusals: {}, badAnswers: [] }
    const reads = { ok: 0, failed: 0 }
    const socketErrors: Record<string, number> = {}
    let running = true
    for (let i = 0; i < keys.length; i++) {
      const w: Writer = { client: connect(mqttPort, keys[i]!, i), acked: [], sent: 0, closed: 0 }
      w.client.on('close', () => w.closed++)
      writers.push(w)
    }
    const loops = named({
      ...Object.fromEntries(writers.map((w, i) => [`mqtt c-${i}`, publishLoop(w, `acme/c-${i}/level`, () => running)])),
      ...Object.fromEntries(
        uploaders.map((u) => [`rest ${u.path}`, uploadLoop(server!.url, u, options.fileBytes, rest, () => running)]),
      ),
      reader: readLoop(server.url, keys[0]!, reads, () => running),
      socket: socketLoop(server.url, keys[0]!, socketErrors, () => running),
    })
    await untilAllAcknowledged(writers, uploaders, 30_000)
    await sleep(options.steadyMs)
    log(
      `writing: ${ackedValues(writers)} values and ${rest.acknowledged} uploads acknowledged; free ${mb(freeBytes(disk.dir))}`,
    )

    // --- the disk fills (a filler takes the last byte); writes must be refused, reads go on ---
    const filler = join(disk.dir, 'filler')
    const closed = () => writers.reduce((sum, w) => sum + w.closed, 0)
    const before = { values: ackedValues(writers), uploads: rest.acknowledged, reads: { ...reads }, closed: closed() }
    const linesBefore = lines.all.length
    const fullAt = Date.now()
    const fillerBytes = fillDisk(filler)
    log(`disk full: filler of ${mb(fillerBytes)}, free ${freeBytes(disk.dir)} bytes`)
    await sleep(options.fullMs / 2)
    const late = connect(mqttPort, all.at(-1)!, keys.length)
    await sleep(options.fullMs / 2)
    const fullFor = (Date.now() - fullAt) / 1000
    const full: PhaseFigures = {
      writesAcknowledgedWhileFull: ackedValues(writers) - before.values + rest.acknowledged - before.uploads,
      readsWhileFull: { ok: reads.ok - before.reads.ok, failed: reads.failed - before.reads.failed },
      mqttClosedWhileFull: closed() - before.closed,
      recoveredAfterMs: null,
    }
    const whileFull = lines.all.slice(linesBefore)
    log(
      `while full (${fullFor.toFixed(1)} s): ${full.writesAcknowledgedWhileFull} writes acknowledged, reads ${JSON.stringify(full.readsWhileFull)}, MQTT connections closed ${full.mqttClosedWhileFull}, ${whileFull.length} log lines`,
    )

    // --- space returns: writes succeed again without a restart ---
    rmSync(filler)
    rmSync(ballast)
    const spaceAt = Date.now()
    const mark = writers.map((w) => w.acked.length)
    const recovered = await eventually(
      () => writers.every((w, i) => w.acked.length > mark[i]!) && uploaders.every((u) => u.lastAckAt > spaceAt),
      30_000,
    )
    full.recoveredAfterMs = recovered ? Date.now() - spaceAt : null
    log(
      `space returned: every writer acknowledged again ${recovered ? `after ${full.recoveredAfterMs} ms` : 'NEVER (30 s)'}`,
    )
    await sleep(AFTER_MS)
    const shownDisconnected = await presenceShown(server.url, all)
    late.end(true)
    running = false
    writers.forEach((w, i) => waitingFor.set(`mqtt c-${i}`, `PUBACK of ${w.sent}, connected ${w.client.connected}`))
    const stuck = await loops.settled(15_000)
    if (stuck.length) {
      const recent = lines.all
        .filter((l) => l.level >= 40)
        .slice(-20)
        .map((l) => l.raw.slice(0, 400))
      throw new Error(
        `writers still waiting for an answer 15 s after the end: ${stuck.join('; ')}\n` +
          `free ${freeBytes(disk.dir)} bytes; the server's last warnings:\n${recent.join('\n')}`,
      )
    }
    await Promise.all(writers.map((w) => w.client.endAsync()))

    const mqttFigures = await checkValues(server.url, keys, writers)
    await checkUploads(server.url, uploaders, rest)
    const serverCrashed = server.child.exitCode !== null

    // --- killed with a WAL, restarted on a full disk: it must start, read, refuse writes, recover ---
    const startupFull = await restartOnFullDisk(server, args, dataDir, keys[0]!, filler, log)
    server = startupFull.server
    await server.stop()
    const integrity = options.provider === 'sqlite' ? integrityCheck(join(dataDir, 'tendril.db')) : ''
    const blobs = await blobCensus([...db, '--data-dir', dataDir])
    const seconds = fullFor || 1
    return {
      mqtt: mqttFigures,
      rest,
      full,
      startupFull: startupFull.figures,
      logWhileFull: countByMessage(whileFull),
      logExamples: examples(whileFull),
      socketErrors,
      unrecognized: lines.all
        .filter((l) => !DISK_FULL_LINES.includes(l.msg) && /disk is full|ENOSPC|SQLITE_FULL/.test(l.raw))
        .map((l) => l.raw.slice(0, 300)),
      diskFullDoors: [...new Set(whileFull.filter((l) => l.msg === DISK_FULL_LINE).map((l) => l.door!))].sort(),
      logLinesPerSecondFull: Math.round(whileFull.length / seconds),
      logBytesPerSecondFull: Math.round(whileFull.reduce((sum, l) => sum + l.raw.length + 1, 0) / seconds),
      strayFiles: strayFiles(dataDir),
      integrity,
      shownDisconnected,
      blobs,
      serverCrashed,
    }
  } finally {
    for (const w of writers) w.client.end(true)
    await server?.stop('SIGKILL')
    disk.unmount()
  }
}

/** Org acme; controllers acme/c-i, each with numeric sequences `level`, `rest`, `socket`, an image sequence `camera`, files. */
async function provision(args: string[], controllers: number): Promise<string[]> {
  const core = await openWith(args)
  try {
    return await provisionControllers(core, controllers, async (folder) => {
      await createSequence(core.db, folder, 'rest', { dataType: SequenceDataType.numeric })
      await createSequence(core.db, folder, 'socket', { dataType: SequenceDataType.numeric })
      await createSequence(core.db, folder, 'camera', { dataType: SequenceDataType.image })
      for (const name of ['upload.bin', 'notes.txt'])
        await createResource(core.db, {
          parentId: folder.id,
          organizationId: folder.organizationId,
          name,
          type: ResourceType.file,
        })
    })
  } finally {
    await core.close() // the server process is the only writer
  }
}

/** A core on the server's database and data dir, from its --db and --data-dir arguments. */
function openWith(args: string[]) {
  const flags: Record<string, unknown> = { 'bcrypt-cost': 4 }
  for (let i = 0; i < args.length; i += 2) flags[args[i]!.slice(2)] = args[i + 1]
  return openCore(loadConfig({ flags, env: {} }), createLogger({ logLevel: 'silent', logFormat: 'json' }))
}

/** Loops by name; settled(ms) lists those not finished within ms, with what each waits for. */
function named(loops: Record<string, Promise<void>>) {
  const pending = new Set(Object.keys(loops))
  for (const [name, loop] of Object.entries(loops)) void loop.finally(() => pending.delete(name))
  return {
    async settled(ms: number): Promise<string[]> {
      await Promise.race([Promise.allSettled(Object.values(loops)), sleep(ms)])
      return [...pending].map((name) => `${name} (${waitingFor.get(name) ?? '?'})`)
    },
  }
}

async function untilAllAcknowledged(writers: Writer[], uploaders: Uploader[], ms: number): Promise<void> {
  const since = Date.now()
  const marks = writers.map((w) => w.acked.length)
  const ok = await eventually(
    () => writers.every((w, i) => w.acked.length > marks[i]!) && uploaders.every((u) => u.lastAckAt > since),
    ms,
  )
  if (!ok) throw new Error(`not every writer had a write acknowledged within ${ms} ms`)
}

const ackedValues = (writers: Writer[]) => writers.reduce((sum, w) => sum + w.acked.length, 0)

async function restartOnFullDisk(
  running: RunningServer,
  args: string[],
  dataDir: string,
  key: string,
  filler: string,
  log: (line: string) => void,
): Promise<{ server: RunningServer; figures: DiskFullResult['startupFull'] }> {
  // a WAL left to replay, whose checkpoint must grow the database file: rows written just before the kill
  const put = (path: string, body: Record<string, string>) =>
    fetch(`${running.url}/api/v1/resources/acme/c-0/${path}`, {
      method: 'PUT',
      headers: { authorization: basicAuth(key), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  const inline = () => put('notes.txt', { contents: randomBytes(450).toString('hex') })
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      for (let i = 0; i < 30; i++) await inline()
    }),
  )
  await put('level', { value: '-1' })
  await running.stop('SIGKILL')
  const walBytes = fileSize(join(dataDir, 'tendril.db-wal'))
  fillDisk(filler)
  const figures = { started: false, readOk: false, writeRefusal: '', writesAfterSpace: false, walBytes, log: {} }
  let server: RunningServer
  try {
    server = await startServer(args)
  } catch (err) {
    log(`restart on a full disk FAILED: ${String(err).slice(0, 600)}`)
    rmSync(filler)
    return { server: await startServer(args), figures }
  }
  figures.started = true
  fillDisk(`${filler}-2`) // what opening the database freed (a checkpointed WAL) is taken too
  const auth = { authorization: basicAuth(key) }
  const read = await fetch(`${server.url}/api/v1/resources/acme/c-0/level`, { headers: auth })
  figures.readOk = read.ok && (await read.text()) === '-1'
  const write = () =>
    fetch(`${server.url}/api/v1/resources/acme/c-0/upload.bin`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ data: randomBytes(64 * 1024).toString('base64') }),
    })
  const refused = await write()
  figures.writeRefusal = `${refused.status} ${(await refused.text()).slice(0, 160)}`
  const output = server
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
  figures.log = countByMessage(output.map((raw) => ({ ...(JSON.parse(raw) as Omit<LogLine, 'raw'>), raw })))
  rmSync(filler)
  rmSync(`${filler}-2`)
  figures.writesAfterSpace = await eventually(async () => (await write()).ok, 10_000)
  log(
    `restarted on a full disk (WAL ${walBytes} bytes): read ${figures.readOk ? 'ok' : 'FAILED'}, write ${figures.writeRefusal}; after space returned: ${figures.writesAfterSpace ? 'writes ok' : 'writes still FAIL'}`,
  )
  return { server, figures }
}

/** The server's log lines (JSON), collected from its stdout and stderr. */
function collectLines(server: RunningServer): { all: LogLine[] } {
  const all: LogLine[] = []
  let partial = ''
  const onData = (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n')
    partial = lines.pop()!
    for (const line of lines) {
      try {
        all.push({ ...(JSON.parse(line) as Omit<LogLine, 'raw'>), raw: line })
      } catch {
        all.push({ level: 60, msg: `(not JSON) ${line.slice(0, 120)}`, raw: line })
      }
    }
  }
  server.child.stdout!.on('data', onData)
  server.child.stderr!.on('data', onData)
  return { all }
}

interface LogLine {
  level: number
  msg: string
  door?: string
  raw: string
}

export const DISK_FULL_LINE = 'the disk is full: writes are refused'
const DISK_FULL_LINES = [DISK_FULL_LINE, 'WAL checkpoint failed: the disk is full; retrying']

function countByMessage(lines: LogLine[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const l of lines) if (l.level >= 30) counts[l.msg] = (counts[l.msg] ?? 0) + 1
  return counts
}

/** The first line of each message (info and above), cut to 400 characters: what an operator reads. */
function examples(lines: LogLine[]): Record<string, string> {
  const first: Record<string, string> = {}
  for (const l of lines) if (l.level >= 30) first[l.msg] ??= l.raw.slice(0, 400)
  return first
}

function strayFiles(dataDir: string): string[] {
  const expected = /^(tendril\.db(-wal|-shm|-journal)?|blobs)$/
  return readdirSync(dataDir).filter((name) => !expected.test(name))
}

/** What the fs blob store holds against what the revisions refer to. */
async function blobCensus(args: string[]): Promise<DiskFullResult['blobs']> {
  const root = join(args.at(-1)!, 'blobs')
  const temp = readdirSync(join(root, 'tmp')).length
  const stored = new Set(
    readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && /^[0-9a-f]{64}$/.test(e.name))
      .map((e) => e.name),
  )
  const core = await openWith(args)
  try {
    const rows = await core.db.resourceRevision.findMany({
      where: { blobHash: { not: null } },
      select: { blobHash: true },
      distinct: ['blobHash'],
    })
    const referenced = new Set(rows.map((r) => r.blobHash!))
    return {
      temp,
      missing: [...referenced].filter((h) => !stored.has(h)).length,
      unreferenced: [...stored].filter((h) => !referenced.has(h)).length,
    }
  } finally {
    await core.close()
  }
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
