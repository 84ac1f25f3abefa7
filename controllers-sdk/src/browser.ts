// Browser entry point: the queue lives in memory (it does not survive a page reload).
import { TendrilClient, type ClientOptions } from './client.ts'
import { MemoryQueue } from './queue/memory.ts'
import type { QueueLimits } from './queue/types.ts'

export * from './shared.ts'

export interface ConnectOptions extends ClientOptions {
  /** the bound of the in-memory queue; beyond it the oldest entries are dropped (counted in `queue.dropped`) */
  queueLimits?: QueueLimits
}

/** Connects a controller; resolves even when the server is unreachable (updates are queued meanwhile). */
export function connect(options: ConnectOptions): Promise<TendrilClient> {
  return new TendrilClient(options, new MemoryQueue(options.queueLimits)).start()
}
