// The outbound queue: what the controller asked to send and the server has not yet acknowledged.
// Entries keep their original timestamps, so a value measured offline is stored as measured.

/** A sequence value or a message, addressed to a folder (null: the controller's own folder). */
export type QueueItem =
  | { kind: 'value'; folder: string | null; name: string; value: string; t: string }
  | { kind: 'message'; folder: string | null; type: string; parameters: Record<string, unknown> }

export type QueueEntry = QueueItem & { id: number }

export interface QueueLimits {
  /** entries kept at most; beyond it the oldest not yet in flight are dropped (default 200,000) */
  maxEntries?: number
}

export interface OutboundQueue {
  /** entries not yet acknowledged */
  readonly size: number
  /** names this queue's entries to the server, which stores an entry once however often it is replayed */
  readonly producer: string
  /** entries dropped at the bound since this queue was opened */
  readonly dropped: number
  /** resolves once the items are kept (on disk for the disk queue); they are then visible to `after` */
  append(items: QueueItem[]): Promise<void>
  /** up to `limit` entries with ids above `afterId`, oldest first */
  after(afterId: number, limit: number): QueueEntry[]
  /** the server stored these (PUBACK): they are never sent again */
  ack(ids: number[]): void
  /** drops entries for good (e.g. refused with a permission error) without counting them as dropped at the bound */
  discard(ids: number[]): void
  /** entries up to this id are in flight and must not be dropped at the bound */
  protectThrough(id: number): void
  /** resolves when every acknowledgement so far is kept */
  flush(): Promise<void>
  close(): Promise<void>
  /** called with how many entries were dropped at the bound */
  onDrop?: (count: number) => void
}
