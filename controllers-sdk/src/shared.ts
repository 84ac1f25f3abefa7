// What both entry points (Node: index.ts, browsers: browser.ts) export.
export { TendrilClient, SDK_VERSION } from './client.ts'
export type {
  ClientOptions,
  ClientEvents,
  Message,
  MessageHandler,
  SequenceValue,
  SubscribeOptions,
  Subscription,
} from './client.ts'
export {
  AuthError,
  ConnectionError,
  ExpiredError,
  NotFoundError,
  PermissionError,
  TendrilSdkError,
  ValidationError,
} from './errors.ts'
export { MemoryQueue } from './queue/memory.ts'
export type { OutboundQueue, QueueEntry, QueueItem, QueueLimits } from './queue/types.ts'
