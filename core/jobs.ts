// Periodic upkeep while the server runs (`tendril serve`): watchdog notices and message history
// bounds, every --watchdog-interval and --message-history-trim-interval. Every instance runs them;
// each job is safe to run concurrently (claims, idempotent deletes).
import type { CoreContext } from './context.ts'
import { trimHistory } from './messages/history.ts'
import { forgetOldPacketMarks } from './messages/packet-marks.ts'
import { notifyStaleWatchdogs } from './resources/watchdog.ts'

interface Job {
  name: string
  everyMs: number
  run(ctx: CoreContext): Promise<unknown>
}

export function standardJobs(ctx: CoreContext): Job[] {
  return [
    { name: 'watchdog notices', everyMs: ctx.config.watchdogIntervalMs, run: notifyStaleWatchdogs },
    // a client that stored nothing for a while has no resend to catch: its row goes
    {
      name: 'packet marks',
      everyMs: ctx.config.messageHistory.trimIntervalMs,
      run: () => forgetOldPacketMarks(ctx.db),
    },
    {
      name: 'message history',
      everyMs: ctx.config.messageHistory.trimIntervalMs,
      run: () =>
        trimHistory(ctx.db, {
          maxPerFolder: ctx.config.messageHistory.count,
          maxAgeMs: ctx.config.messageHistory.days * 86_400_000,
        }),
    },
  ]
}

/** Starts the jobs; returns a function that stops them and waits for runs in progress. */
export function startJobs(ctx: CoreContext, jobs: Job[] = standardJobs(ctx)): () => Promise<void> {
  const running = new Set<Promise<unknown>>()
  const timers = jobs.map((job) => {
    let busy = false
    const timer = setInterval(() => {
      if (busy) return
      busy = true
      const run = job
        .run(ctx)
        .catch((err) => ctx.log.error({ err, job: job.name }, 'background job failed'))
        .finally(() => {
          busy = false
          running.delete(run)
        })
      running.add(run)
    }, job.everyMs)
    timer.unref()
    return timer
  })
  return async () => {
    timers.forEach(clearInterval)
    await Promise.allSettled([...running])
  }
}
