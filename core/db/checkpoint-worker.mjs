// The SQLite checkpointer's thread (see checkpointer.ts): its own connection to the database file
// copies committed WAL frames into the file, and waits for the disk, away from the event loop.
// Plain JavaScript so that it loads in a worker thread without the TypeScript loader.
import { statSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'

const { file, intervalMs, walLimitBytes } = workerData
const db = new Database(file)
db.pragma('busy_timeout = 0') // never wait for the server's connection: try again next time

const walSize = () => {
  try {
    return statSync(`${file}-wal`).size
  } catch {
    return 0
  }
}

function checkpoint() {
  try {
    // PASSIVE never waits for the writer or readers: it copies what is committed and leaves the rest
    db.pragma('wal_checkpoint(PASSIVE)')
    // The server starts the WAL over only if it begins a write with every frame copied, which a
    // steady writer can keep missing while the WAL grows. Past the limit, a TRUNCATE empties the
    // file: it waits (up to 200 ms) for a moment between the server's writes, then holds the write
    // lock while it copies the last few frames and syncs, so a write may wait that long, rarely.
    if (walSize() > walLimitBytes) {
      db.pragma('busy_timeout = 200')
      try {
        db.pragma('wal_checkpoint(TRUNCATE)')
      } finally {
        db.pragma('busy_timeout = 0')
      }
    }
  } catch (err) {
    parentPort.postMessage({ error: String(err?.message ?? err) })
  }
}

const timer = setInterval(checkpoint, intervalMs)
parentPort.on('message', (message) => {
  if (message !== 'stop') return
  clearInterval(timer)
  checkpoint()
  db.close()
  parentPort.close()
})
