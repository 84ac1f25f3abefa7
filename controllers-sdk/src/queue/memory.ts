// The in-memory queue (browsers, and Node when asked for): the same ordering and bound as the disk
// queue, without surviving a restart. The disk queue extends it with persistence.
import type { OutboundQueue, QueueEntry, QueueItem, QueueLimits } from './types.ts'

/** About 100 MB of heap (a queued value takes about half a kilobyte: bench/sdk-throughput.ts). */
export const DEFAULT_MAX_ENTRIES = 200_000

export class MemoryQueue implements OutboundQueue {
  protected pending: QueueEntry[] = []
  /** acknowledged ids not yet at the head of `pending` (acks may arrive out of order) */
  protected done = new Set<number>()
  protected nextId = 1
  /** the highest id in `pending` so far (ids numbered but not yet accepted are not committed) */
  protected lastAccepted = 0
  protected protectedThrough = 0
  protected readonly maxEntries: number
  dropped = 0
  onDrop?: (count: number) => void
  producer = newProducerId()

  constructor(limits: QueueLimits = {}) {
    this.maxEntries = Math.max(1, limits.maxEntries ?? DEFAULT_MAX_ENTRIES)
  }

  get size(): number {
    return this.pending.length - this.done.size
  }

  async append(items: QueueItem[]): Promise<void> {
    this.accept(this.number(items))
  }

  protected number(items: QueueItem[]): QueueEntry[] {
    return items.map((item) => ({ ...item, id: this.nextId++ }))
  }

  protected accept(entries: QueueEntry[]): void {
    for (const e of entries) this.pending.push(e)
    if (entries.length > 0) this.lastAccepted = entries[entries.length - 1]!.id
    this.enforceBound()
  }

  after(afterId: number, limit: number): QueueEntry[] {
    const out: QueueEntry[] = []
    let i = this.indexAfter(afterId)
    for (; i < this.pending.length && out.length < limit; i++) {
      const e = this.pending[i]!
      if (!this.done.has(e.id)) out.push(e)
    }
    return out
  }

  ack(ids: number[]): void {
    for (const id of ids) this.done.add(id)
    this.trimHead()
  }

  discard(ids: number[]): void {
    this.ack(ids)
  }

  protectThrough(id: number): void {
    this.protectedThrough = id
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}

  /** the highest id below which everything is acknowledged */
  protected get committedId(): number {
    return this.pending.length > 0 ? this.pending[0]!.id - 1 : this.lastAccepted
  }

  protected trimHead(): void {
    let n = 0
    while (n < this.pending.length && this.done.has(this.pending[n]!.id)) this.done.delete(this.pending[n++]!.id)
    if (n > 0) this.pending.splice(0, n)
  }

  // ids are increasing, so the position of an id is a binary search away
  private indexAfter(afterId: number): number {
    let lo = 0
    let hi = this.pending.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.pending[mid]!.id <= afterId) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  // Drop-oldest: the oldest entries not in flight go first (in-flight ones may already be stored).
  private enforceBound(): void {
    let excess = this.size - this.maxEntries
    if (excess <= 0) return
    const victims: number[] = []
    for (let i = this.indexAfter(this.protectedThrough); i < this.pending.length && excess > 0; i++) {
      const id = this.pending[i]!.id
      if (this.done.has(id)) continue
      victims.push(id)
      excess--
    }
    if (victims.length === 0) return
    this.dropped += victims.length
    this.dropIds(victims)
    this.onDrop?.(victims.length)
  }

  // a dropped entry is as good as acknowledged: it leaves with the head, and the disk queue's
  // committed offset moves past it so a restart does not bring it back
  protected dropIds(ids: number[]): void {
    this.ack(ids)
  }
}

/** 20 random characters of [a-z0-9]: a producer's entry ids are unique only together with it. */
export function newProducerId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(20))
  return Array.from(bytes, (b) => (b % 36).toString(36)).join('')
}
