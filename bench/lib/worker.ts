// A load generator in a child process, so the broker under test has the parent process to itself.
// The parent sends jobs over IPC; the child answers each with a result or an error.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

type Reply = { id: number; result?: unknown; error?: string }

export interface Worker<Job, Result> {
  run(job: Job, timeoutMs: number): Promise<Result>
  stop(): Promise<void>
}

/** Parent side: starts `file` (a module that calls serveJobs) with tsx. */
export function startWorker<Job, Result>(file: URL): Worker<Job, Result> {
  const child: ChildProcess = fork(fileURLToPath(file), [], {
    execArgv: ['--import', 'tsx', '--conditions=tendril-source'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const waiting = new Map<number, { resolve(r: Result): void; reject(e: Error): void }>()
  let nextId = 0
  child.on('message', (reply: Reply) => {
    const w = waiting.get(reply.id)
    waiting.delete(reply.id)
    if (reply.error !== undefined) w?.reject(new Error(reply.error))
    else w?.resolve(reply.result as Result)
  })
  child.on('exit', (code, signal) => {
    for (const w of waiting.values()) w.reject(new Error(`load worker exited (${code ?? signal})`))
    waiting.clear()
  })
  return {
    run(job, timeoutMs) {
      const id = ++nextId
      return new Promise<Result>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id)
          reject(new Error(`load worker job timed out after ${timeoutMs} ms`))
          child.kill('SIGKILL') // its connections may be in any state: start over rather than reuse it
        }, timeoutMs)
        const settle =
          <T>(fn: (v: T) => void) =>
          (v: T) => (clearTimeout(timer), fn(v))
        waiting.set(id, { resolve: settle(resolve), reject: settle(reject) })
        child.send({ id, job })
      })
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.disconnect()
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Child side: answers each job with handler's result. The child exits when the parent goes away. */
export function serveJobs<Job, Result>(handler: (job: Job) => Promise<Result>): void {
  process.on('message', ({ id, job }: { id: number; job: Job }) => {
    handler(job).then(
      (result) => process.send!({ id, result }),
      (err: Error) => process.send!({ id, error: err.stack ?? String(err) }),
    )
  })
  process.on('disconnect', () => process.exit(0))
}
