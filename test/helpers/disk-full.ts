// Fault scenario "disk full" (issue 21), shared by bench/faults/disk-full.ts and its short test: a real
// `tendril serve` on SQLite with its data dir on a small tmpfs, while controllers publish numbered QoS 1
// values, uploaders write file revisions and image values (the blob store) over REST and readers read.
// A filler file takes the disk's last byte, then is deleted; then the server is SIGKILLed, the disk
// filled again, and the server started on it (WAL recovery and checkpoint on a full disk).
import { createHash, randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import mqtt, { type MqttClient } from 'mqtt'
import sharp from 'sharp'
import { createController, createOrg } from '../../core/admin.ts'
import { loadConfig } from '../../core/config.ts'
import { openCore } from '../../core/index.ts'
import { createLogger } from '../../core/log.ts'
import { createResource, createSequence, findPath } from '../../core/resources/tree.ts'
import { ResourceType, SequenceDataType } from '../../core/resources/types.ts'
import { freePort } from '../harness/ports.ts'
import { startServer, type RunningServer } from './cli.ts'
import { basicAuth, eventually } from './http.ts'
import { openSocket, sendRhizo } from './json-websocket.ts'
import { sharedPostgres } from '../harness/postgres.ts'
import type { Provider } from './core.ts'

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

/** What one REST or MQTT door saw. */
export interface DoorFigures {
  acknowledged: number
  /** acknowledged, then missing or unreadable at the end: must be none */
  lost: string[]
  /** refusals by status and code, e.g. "507 disk_full" */
  refusals: Record<string, number>
  /** answers that are not a JSON error with a code, or a 500: must be none */
  badAnswers: string[]
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

interface Writer {
  client: MqttClient
  acked: number[]
  sent: number
  closed: number
}

interface Uploader {
  key: string
  path: string
  /** sha256 of every acknowledged file revision and image value, by resource path */
  acked: Map<string, Set<string>>
  lastAckAt: number
}

/** Mounts a tmpfs of sizeMb at a fresh directory; throws (never skips) when mounting is not permitted. */
export function mountTmpfs(sizeMb: number): { dir: string; unmount(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-disk-full-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    const why = String((err as { stderr?: Buffer }).stderr ?? err).trim()
    throw new Error(`the disk-full scenario mounts a tmpfs and needs root or CAP_SYS_ADMIN: mount failed: ${why}`, {
      cause: err,
    })
  }
  // interrupted (Ctrl-C, a timeout): detached at once, freed once the server is gone
  const interrupted = () => {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
    process.exit(130)
  }
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted)
  return {
    dir,
    unmount() {
      process.off('SIGINT', interrupted).off('SIGTERM', interrupted)
      execFileSync('umount', [dir], { stdio: 'pipe' })
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Writes a file until the filesystem refuses another byte; returns its size. */
export function fillDisk(path: string): number {
  const fd = openSync(path, 'w')
  let size = 0
  try {
    for (const chunk of [1 << 20, 1 << 16, 1 << 12, 512, 1]) {
      const buffer = Buffer.alloc(chunk, 0x55)
      for (;;) {
        try {
          size += writeSync(fd, buffer)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break
          throw err
        }
      }
    }
  } finally {
    closeSync(fd)
  }
  return size
}

const freeBytes = (dir: string) => {
  const s = statfsSync(dir)
  return s.bavail * s.bsize
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
    const mqttPort = await freePort()
    const args = [...db, '--data-dir', dataDir, '--mqtt-port', String(mqttPort)]
    server = await startServer(args)
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

/** Org acme; controllers acme/c-i, each with numeric sequences `level` and `rest`, an image sequence `camera`, files. */
async function provision(args: string[], controllers: number): Promise<string[]> {
  const core = await openWith(args)
  try {
    await createOrg(core, 'acme')
    const keys: string[] = []
    for (let i = 0; i < controllers; i++) {
      const { key } = await createController(core, `acme/c-${i}`)
      const folder = (await findPath(core.db, `/acme/c-${i}`))!.at(-1)!
      await createSequence(core.db, folder, 'level', { dataType: SequenceDataType.numeric })
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
      keys.push(key)
    }
    return keys
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

function connect(port: number, key: string, i: number): MqttClient {
  return mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    username: 'key',
    password: key,
    clientId: `c-${i}`,
    reconnectPeriod: 100,
    connectTimeout: 5000,
  })
}

/** One value in flight per controller, numbered 1, 2, …; a value counts once publishAsync resolved (PUBACK). */
async function publishLoop(w: Writer, topic: string, running: () => boolean): Promise<void> {
  for (let n = 1; running(); n++) {
    w.sent = n
    waitingFor.set(`mqtt ${w.client.options.clientId}`, `PUBACK of ${n} since ${new Date().toISOString()}`)
    await w.client.publishAsync(topic, String(n), { qos: 1 })
    w.acked.push(n)
  }
}

/**
 * In turn: a large file revision (random bytes, JSON base64), an image value (a noisy JPEG, multipart), a numbered
 * value, a small file revision (inline).
 */
async function uploadLoop(
  url: string,
  u: Uploader,
  fileBytes: number,
  rest: DoorFigures,
  running: () => boolean,
): Promise<void> {
  for (let n = 0; running(); n++) {
    waitingFor.set(`rest ${u.path}`, `write ${n} (kind ${n % 4}) since ${new Date().toISOString()}`)
    const write = await restWrite(url, u, n, fileBytes)
    const text = await write.res.text()
    if (write.res.ok) {
      rest.acknowledged++
      u.lastAckAt = Date.now()
      const set = u.acked.get(write.path) ?? new Set<string>()
      set.add(write.ackKey)
      u.acked.set(write.path, set)
      continue
    }
    noteRefusal(rest, write.res.status, text)
    await sleep(50) // a refused writer tries again soon, as a controller with a queue would
  }
}

/** One REST write of kind n % 4; ackKey: what the stored copy must show (a sha256, or the number). */
async function restWrite(url: string, u: Uploader, n: number, fileBytes: number) {
  const auth = { authorization: basicAuth(u.key) }
  const json = { ...auth, 'content-type': 'application/json' }
  const put = (path: string, headers: Record<string, string>, body: string | FormData) =>
    fetch(`${url}/api/v1/resources${path}`, { method: 'PUT', headers, body })
  if (n % 4 === 3) {
    // inline in its row, through one of Prisma's transactions
    const contents = randomBytes(300).toString('hex')
    const path = `${u.path}/notes.txt`
    return {
      path,
      ackKey: sha256(Buffer.from(contents)),
      res: await put(`/${path}`, json, JSON.stringify({ contents })),
    }
  }
  if (n % 4 === 0) {
    const bytes = randomBytes(fileBytes)
    const path = `${u.path}/upload.bin`
    return {
      path,
      ackKey: sha256(bytes),
      res: await put(`/${path}`, json, JSON.stringify({ data: bytes.toString('base64') })),
    }
  }
  if (n % 4 === 1) {
    const bytes = await noisyJpeg()
    const form = new FormData()
    form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'camera.jpg')
    const path = `${u.path}/camera`
    return { path, ackKey: sha256(bytes), res: await put(`/${path}`, auth, form) }
  }
  // several sequences at once (PUT /api/v1/resources): a transaction through Prisma
  const path = `${u.path}/rest`
  return { path, ackKey: String(n), res: await put('', json, JSON.stringify({ values: { [`/${path}`]: n } })) }
}

function noteRefusal(door: DoorFigures, status: number, text: string): void {
  let code = '(not JSON)'
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '(no code)'
  } catch {
    // counted as not JSON below
  }
  const key = `${status} ${code}`
  door.refusals[key] = (door.refusals[key] ?? 0) + 1
  if (status === 500 || code.startsWith('(')) door.badAnswers.push(`${status} ${text.slice(0, 200)}`)
}

/** The latest value of a sequence and the latest file revision, read over and over. */
async function readLoop(
  url: string,
  key: string,
  reads: { ok: number; failed: number },
  running: () => boolean,
): Promise<void> {
  const paths = ['acme/c-0/level', 'acme/c-0/upload.bin', 'acme/c-0?recursive=1']
  for (let n = 0; running(); n++) {
    const res = await fetch(`${url}/api/v1/resources/${paths[n % paths.length]}`, {
      headers: { authorization: basicAuth(key) },
    }).catch(() => undefined)
    await res?.arrayBuffer()
    if (res?.ok) reads.ok++
    else reads.failed++
    await sleep(20)
  }
}

/** rhizo's JSON websocket: a numbered value every 50 ms; it answers only a refusal (an error frame). */
async function socketLoop(
  url: string,
  key: string,
  errors: Record<string, number>,
  running: () => boolean,
): Promise<void> {
  const ws = await openSocket(url, key)
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as { type: string; parameters: { message?: string } }
    if (frame.type === 'error') errors[frame.parameters.message!] = (errors[frame.parameters.message!] ?? 0) + 1
  })
  for (let n = 1; running() && ws.readyState === ws.OPEN; n++) {
    sendRhizo(ws, { type: 'update_sequence', parameters: { sequence: 'socket', value: String(n) } })
    await sleep(50)
  }
  ws.close()
}

/** The controllers whose status (meta=1) says disconnected. */
async function presenceShown(url: string, keys: string[]): Promise<string[]> {
  const disconnected: string[] = []
  for (let i = 0; i < keys.length; i++) {
    const res = await fetch(`${url}/api/v1/resources/acme/c-${i}?meta=1`, {
      headers: { authorization: basicAuth(keys[i]!) },
    })
    const meta = (await res.json()) as { connected?: boolean }
    if (meta.connected !== true) disconnected.push(`c-${i}`)
  }
  return disconnected
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

/** What each loop is waiting for now (diagnostics for a stuck one). */
const waitingFor = new Map<string, string>()

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

/** Every PUBACKed value is in its sequence's history once. */
async function checkValues(url: string, keys: string[], writers: Writer[]): Promise<DoorFigures> {
  const figures: DoorFigures = { acknowledged: 0, lost: [], refusals: {}, badAnswers: [] }
  for (let i = 0; i < writers.length; i++) {
    const res = await fetch(`${url}/api/v1/resources/acme/c-${i}/level?count=100000`, {
      headers: { authorization: basicAuth(keys[i]!) },
    })
    const text = await res.text()
    if (res.status !== 200) throw new Error(`acme/c-${i}/level: ${res.status} ${text}`)
    const stored = new Set((JSON.parse(text) as { values: unknown[] }).values.map(Number))
    figures.acknowledged += writers[i]!.acked.length
    for (const n of writers[i]!.acked) if (!stored.has(n)) figures.lost.push(`c-${i}:${n}`)
  }
  return figures
}

/**
 * Every acknowledged upload is a revision whose bytes read back whole (a blob store read is verified),
 * every acknowledged value is in the history.
 */
async function checkUploads(url: string, uploaders: Uploader[], rest: DoorFigures): Promise<void> {
  for (const u of uploaders) {
    for (const [path, acked] of u.acked) {
      const auth = { authorization: basicAuth(u.key) }
      if (path.endsWith('/rest')) {
        const history = await (await fetch(`${url}/api/v1/resources/${path}?count=100000`, { headers: auth })).json()
        const stored = new Set((history as { values: unknown[] }).values.map(String))
        for (const n of acked) if (!stored.has(n)) rest.lost.push(`${path} ${n}`)
        continue
      }
      const list = path.endsWith('camera') ? '?revisions=1&count=1000' : '?revisions=1'
      const revisions = (await (await fetch(`${url}/api/v1/resources/${path}${list}`, { headers: auth })).json()) as {
        id: number
      }[]
      const found = new Set<string>()
      for (const r of revisions) {
        const res = await fetch(`${url}/api/v1/resources/${path}?rev=${r.id}`, { headers: auth })
        const bytes = Buffer.from(await res.arrayBuffer().catch(() => new ArrayBuffer(0)))
        if (res.ok) found.add(sha256(bytes))
        else rest.lost.push(`${path} rev ${r.id} unreadable: ${res.status}`)
      }
      for (const hash of acked) if (!found.has(hash)) rest.lost.push(`${path} ${hash.slice(0, 12)}`)
    }
  }
}

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

function integrityCheck(file: string): string {
  const db = new Database(file)
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ')
  } finally {
    db.close()
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

async function noisyJpeg(): Promise<Buffer> {
  const noise = { type: 'gaussian' as const, mean: 128, sigma: 40 }
  const background = { r: 0, g: 0, b: 0 }
  return sharp({ create: { width: 48, height: 48, channels: 3, background, noise } })
    .jpeg()
    .toBuffer()
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
