// The on-disk queue (Node only): store-and-forward that survives a process restart or a crash.
//
// Layout of the queue directory:
//   queue.log  append-only, one JSON entry per line, written in batches and fsync'd before
//              append() resolves; a torn last line (crash mid-write) is cut off on open
//   committed  the id below which every entry is acknowledged (or dropped), replaced atomically
//              (write a temporary file, fsync, rename) after acknowledgements
//   lock       the pid of the process using the queue: two processes must not replay one queue
//   producer   the queue's random name: with an entry's id it lets the server store an entry once
// The log is emptied when nothing is pending, and rewritten when it is mostly acknowledged entries.
//
// An entry is committed only after its PUBACK, which the server sends once the values are stored.
// A crash between the store and the commit replays those entries; the server recognises them by
// producer and id and stores them once (wire.ts).
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync, unlinkSync } from 'node:fs'
import { open, rename, writeFile, type FileHandle } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ValidationError } from '../errors.ts'
import { MemoryQueue } from './memory.ts'
import type { QueueEntry, QueueItem, QueueLimits } from './types.ts'

/** Queue directories open in this process (a lock file with our own pid does not say whether). */
const openHere = new Set<string>()

const EMPTY_WHEN_OVER = 1 << 20 // bytes: an all-acknowledged log larger than this is emptied
const REWRITE_WHEN_OVER = 64 << 20 // bytes: a larger log is rewritten with only its pending entries

export class DiskQueue extends MemoryQueue {
  private log!: FileHandle
  private logBytes = 0
  /** lines in the log, acknowledged or not */
  private logLines = 0
  /** log appends and compaction, one after another */
  private writes: Promise<void> = Promise.resolve()
  /** writes of the committed file, one after another */
  private commits: Promise<void> = Promise.resolve()
  private batch: {
    lines: string[]
    entries: QueueEntry[]
    waiters: { resolve: () => void; reject: (e: Error) => void }[]
  } | null = null
  private commitScheduled = false
  private lastCommitted = 0
  private closed = false

  private constructor(
    private readonly dir: string,
    limits: QueueLimits,
  ) {
    super(limits)
  }

  static async open(dir: string, limits: QueueLimits = {}): Promise<DiskQueue> {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const queue = new DiskQueue(dir, limits)
    queue.lock()
    try {
      await queue.load()
    } catch (err) {
      queue.unlock()
      throw err
    }
    return queue
  }

  override async append(items: QueueItem[]): Promise<void> {
    if (this.closed) throw new ValidationError('the queue is closed')
    if (items.length === 0) return
    const entries = this.number(items)
    // Appends made while a write is under way wait for it together: one write and one fsync for
    // all of them, however many calls made them.
    if (!this.batch) {
      this.batch = { lines: [], entries: [], waiters: [] }
      void this.onWrites(() => this.writeBatch())
    }
    const batch = this.batch
    for (const e of entries) {
      batch.lines.push(JSON.stringify(e))
      batch.entries.push(e)
    }
    return new Promise((resolve, reject) => batch.waiters.push({ resolve, reject }))
  }

  override ack(ids: number[]): void {
    super.ack(ids)
    this.scheduleCommit()
  }

  override async flush(): Promise<void> {
    this.scheduleCommit()
    await this.writes
    await this.commits
    await this.writes // a compaction the commit may have started
  }

  override async close(): Promise<void> {
    if (this.closed) return
    await this.flush()
    this.closed = true
    await this.log.close()
    this.unlock()
  }

  private async writeBatch(): Promise<void> {
    const batch = this.batch!
    this.batch = null
    const bytes = Buffer.from(batch.lines.join('\n') + '\n')
    try {
      await this.log.write(bytes, 0, bytes.length, this.logBytes)
      await this.log.datasync()
      this.logBytes += bytes.length
      this.logLines += batch.lines.length
    } catch (err) {
      for (const w of batch.waiters) w.reject(err as Error)
      return
    }
    // visible to the sender only once on disk, so nothing is sent that a crash could forget
    this.accept(batch.entries)
    for (const w of batch.waiters) w.resolve()
  }

  // Commits run on their own chain (another file), so appends never wait for them; acknowledgements
  // that arrive during a commit are folded into the next one.
  private scheduleCommit(): void {
    if (this.commitScheduled || this.closed) return
    this.commitScheduled = true
    const run = this.commits.then(async () => {
      this.commitScheduled = false
      const committed = this.committedId
      if (committed === this.lastCommitted) return
      const tmp = join(this.dir, 'committed.tmp')
      const fh = await open(tmp, 'w', 0o600)
      await fh.writeFile(String(committed))
      await fh.datasync()
      await fh.close()
      await rename(tmp, join(this.dir, 'committed'))
      this.lastCommitted = committed
      if (this.logBytes > EMPTY_WHEN_OVER) void this.onWrites(() => this.compact())
    })
    this.commits = run.catch(() => {
      this.commitScheduled = false // retried with the next acknowledgement
    })
  }

  // Runs on the write chain, so no append is under way. Only what the committed file covers goes.
  private async compact(): Promise<void> {
    if (this.pending.length === 0 && this.lastCommitted >= this.lastAccepted && this.logBytes > EMPTY_WHEN_OVER) {
      await this.log.truncate(0)
      this.logBytes = 0
      this.logLines = 0
      return
    }
    // rewriting costs the live entries' bytes: worth it only when they are under half the log
    if (this.logBytes <= REWRITE_WHEN_OVER || this.size * 2 > this.logLines) return
    const live = this.after(this.lastCommitted, Number.MAX_SAFE_INTEGER)
    const text = live.map((e) => JSON.stringify(e) + '\n').join('')
    const tmp = join(this.dir, 'queue.log.tmp')
    await writeFile(tmp, text, { mode: 0o600, flush: true })
    await this.log.close()
    await rename(tmp, join(this.dir, 'queue.log'))
    this.log = await open(join(this.dir, 'queue.log'), 'r+')
    this.logBytes = Buffer.byteLength(text)
    this.logLines = live.length
  }

  private onWrites(step: () => Promise<void>): Promise<void> {
    const run = this.writes.then(step)
    this.writes = run.catch(() => {})
    return run
  }

  // Ids start again at 1 when the queue's files are gone: then it needs a new name too, or the server
  // would take its new entries for replays of the old ones.
  private loadProducer(idsUsed: boolean): void {
    const path = join(this.dir, 'producer')
    const known = readText(path)
    if (idsUsed && /^[a-z0-9]{8,64}$/.test(known)) {
      this.producer = known
      return
    }
    writeFileSync(path + '.tmp', this.producer, { mode: 0o600, flush: true })
    renameSync(path + '.tmp', path)
  }

  private async load(): Promise<void> {
    const committed = readNumber(join(this.dir, 'committed'))
    this.lastCommitted = committed
    const path = join(this.dir, 'queue.log')
    this.log = await open(path, 'a+').then(async (fh) => {
      await fh.close()
      return open(path, 'r+')
    })
    const bytes = await this.log.readFile()
    let good = 0 // bytes of whole, parseable lines
    let maxId = committed
    const entries: QueueEntry[] = []
    for (let start = 0; start < bytes.length;) {
      const end = bytes.indexOf(0x0a, start)
      if (end < 0) break // torn last line: never acknowledged to anyone, so cut it off
      let entry: QueueEntry
      try {
        entry = JSON.parse(bytes.toString('utf8', start, end)) as QueueEntry
      } catch {
        break
      }
      start = good = end + 1
      this.logLines++
      maxId = Math.max(maxId, entry.id)
      if (entry.id > committed) entries.push(entry)
    }
    if (good < bytes.length) await this.log.truncate(good)
    this.logBytes = good
    this.loadProducer(maxId > 0)
    this.nextId = maxId + 1
    this.lastAccepted = maxId
    this.pending = entries
  }

  private lock(): void {
    const path = join(this.dir, 'lock')
    if (openHere.has(resolve(this.dir)))
      throw new ValidationError(`the queue directory ${this.dir} is in use by process ${process.pid}`)
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o600)
        writeSync(fd, String(process.pid))
        closeSync(fd)
        openHere.add(resolve(this.dir))
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        const owner = readNumber(path)
        if (owner > 0 && owner !== process.pid && isAlive(owner)) {
          throw new ValidationError(`the queue directory ${this.dir} is in use by process ${owner}`)
        }
        unlinkSync(path) // left behind by a process that died
      }
    }
    throw new ValidationError(`cannot lock the queue directory ${this.dir}`)
  }

  private unlock(): void {
    openHere.delete(resolve(this.dir))
    try {
      if (readNumber(join(this.dir, 'lock')) === process.pid) unlinkSync(join(this.dir, 'lock'))
    } catch {
      // already gone
    }
  }
}

function readNumber(path: string): number {
  const n = Number(readText(path))
  return Number.isSafeInteger(n) && n > 0 ? n : 0
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return ''
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
