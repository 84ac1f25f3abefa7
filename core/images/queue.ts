// Thumbnails are made after the request that stored the image has been answered, one at a time per
// process (sharp is CPU-heavy and the machine is shared with the broker). The queue is bounded: when
// it is full the oldest waiting job is dropped with a warning rather than letting memory grow without
// limit. drainThumbnails lets a normal shutdown finish the jobs already queued. Errors are logged,
// never thrown at the request that queued the job.
import type { CoreContext } from '../context.ts'
import { reportDiskFull } from '../disk-full.ts'

const MAX_WAITING = 1000

interface Job {
  what: string
  run: () => Promise<unknown>
}

interface Queue {
  waiting: Job[]
  running: Promise<void> | null
}

const queues = new WeakMap<CoreContext, Queue>()

function queueOf(ctx: CoreContext): Queue {
  let queue = queues.get(ctx)
  if (!queue) queues.set(ctx, (queue = { waiting: [], running: null }))
  return queue
}

export function queueThumbnail(ctx: CoreContext, what: string, run: () => Promise<unknown>): void {
  const queue = queueOf(ctx)
  if (queue.waiting.length >= MAX_WAITING) {
    const dropped = queue.waiting.shift()!
    ctx.log.warn({ job: dropped.what }, 'thumbnail queue full; oldest job dropped')
  }
  queue.waiting.push({ what, run })
  queue.running ??= work(ctx, queue)
}

async function work(ctx: CoreContext, queue: Queue): Promise<void> {
  // the first job starts on a later tick, after the response that queued it has gone out
  await new Promise((resolve) => setImmediate(resolve))
  for (let job = queue.waiting.shift(); job; job = queue.waiting.shift()) {
    try {
      await job.run()
    } catch (err) {
      if (!reportDiskFull(ctx.log, err, 'thumbnails', { job: job.what }))
        ctx.log.warn({ err, job: job.what }, 'thumbnail not made')
    }
  }
  queue.running = null
}

/** Waits until every queued thumbnail is made (or failed). */
export async function drainThumbnails(ctx: CoreContext): Promise<void> {
  const queue = queues.get(ctx)
  while (queue?.running) await queue.running
}

/** Thumbnail jobs waiting (/metrics). */
export function thumbnailsWaiting(ctx: CoreContext): number {
  return queues.get(ctx)?.waiting.length ?? 0
}
