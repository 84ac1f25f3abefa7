// The SQLite checkpointer's thread (see checkpointer.ts): its own connection to the database file
// copies committed WAL frames into the file, and waits for the disk, away from the event loop.
// Plain JavaScript so that it loads in a worker thread without the TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'

const { file, intervalMs, walLimitBytes } = workerData
const db = new Database(file)
db.pragma('busy_timeout = 0') // PASSIVE never waits anyway; nothing here should
const pageSize = db.pragma('page_size', { simple: true })

let waiting = false // for the server connection to start the WAL over
// failures in a row (a full disk fails every 200 ms): reported at the first, every 10 s, and when they end
const REPORT_EVERY_MS = 10_000
let failures = 0
let reportedAt = 0
function checkpoint() {
  if (waiting) return
  try {
    checkpointOnce()
    if (failures) parentPort.postMessage({ recovered: true, failures })
    failures = 0
  } catch (err) {
    failures++
    if (failures > 1 && Date.now() - reportedAt < REPORT_EVERY_MS) return
    reportedAt = Date.now()
    parentPort.postMessage({ error: String(err?.message ?? err), code: err?.code, failures })
  }
}

function checkpointOnce() {
  // PASSIVE never waits for the writer or readers: it copies what is committed and leaves the rest
  const [{ log }] = db.pragma('wal_checkpoint(PASSIVE)')
  // what the WAL holds since it last started over (the file itself keeps its largest size)
  if (log * (pageSize + 24) > walLimitBytes) {
    waiting = true
    parentPort.postMessage({ walOverLimit: true })
  }
}

const timer = setInterval(checkpoint, intervalMs)
parentPort.postMessage({ ready: true })
parentPort.on('message', (message) => {
  if (message === 'restarted') {
    waiting = false
    return
  }
  if (message !== 'stop') return
  clearInterval(timer)
  waiting = false
  checkpoint()
  db.close()
  parentPort.close()
})
