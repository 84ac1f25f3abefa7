// Node entry point: the queue is on disk by default, so values survive a restart of the program.
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { TendrilClient, type ClientOptions } from './client.ts'
import { DiskQueue } from './queue/disk.ts'
import { MemoryQueue } from './queue/memory.ts'
import type { QueueLimits } from './queue/types.ts'

export * from './shared.ts'
export { DiskQueue } from './queue/disk.ts'
export { provision, type ProvisionOptions, type ControllerConfig } from './provision.ts'

export interface ConnectOptions extends ClientOptions {
  /**
   * Where the on-disk queue lives (one directory per controller and process). Default:
   * $XDG_STATE_HOME (or ~/.local/state)/tendril/queue-<hash of server and key>. `false`: in memory.
   */
  queueDir?: string | false
  /** the bound of the queue; beyond it the oldest entries are dropped (counted in `queue.dropped`) */
  queueLimits?: QueueLimits
}

/**
 * Connects a controller. Resolves once connected — or, when the server cannot be reached, at once
 * after the first failed attempt (or `connectTimeoutMs`): updates and messages are queued meanwhile
 * and sent in order when the connection comes. Rejects with AuthError if the server refuses the key.
 */
export async function connect(options: ConnectOptions): Promise<TendrilClient> {
  if (options.queueDir === false) return new TendrilClient(options, new MemoryQueue(options.queueLimits)).start()
  const dir = options.queueDir ?? defaultQueueDir(options)
  const queue = await DiskQueue.open(dir, options.queueLimits)
  // a controller that once learned its folder can start offline without being told it again
  const remembered = join(dir, 'controller.json')
  const controllerPath = options.controllerPath ?? readRemembered(remembered)
  const client = new TendrilClient(controllerPath ? { ...options, controllerPath } : options, queue)
  client.learnedControllerPath = (path) => writeFileSync(remembered, JSON.stringify({ path }), { mode: 0o600 })
  return client.start()
}

export function defaultQueueDir(options: { server: string; mqttUrl?: string; key: string }): string {
  const state = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state')
  const id = createHash('sha256')
    .update(`${options.server}\n${options.mqttUrl ?? ''}\n${options.key}`)
    .digest('hex')
    .slice(0, 16)
  return join(state, 'tendril', `queue-${id}`)
}

function readRemembered(path: string): string | undefined {
  try {
    const { path: p } = JSON.parse(readFileSync(path, 'utf8')) as { path?: unknown }
    return typeof p === 'string' ? p : undefined
  } catch {
    return undefined
  }
}
