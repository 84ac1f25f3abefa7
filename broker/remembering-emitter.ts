// Aedes' emitter (mqemitter), remembering which listeners each topic reaches until its listeners
// change. Topics repeat (a controller publishes on a few), and a Map lookup costs less than splitting
// the topic into levels and walking the trie for every message.
import mqemitter, { type MQEmitter } from 'mqemitter'

/** Topics remembered at most; past this many, the memory starts over. */
const REMEMBERED_TOPICS = 10_000

/** What a trie answered for each topic, kept until `clear` (its filters changed). */
export class TopicAnswers<T> {
  private answers = new Map<string, T>()
  /** `answer`: asks the trie, when this topic has no answer kept */
  get(topic: string, answer: (topic: string) => T): T {
    let known = this.answers.get(topic)
    if (known === undefined) {
      if (this.answers.size >= REMEMBERED_TOPICS) this.answers.clear()
      known = answer(topic)
      this.answers.set(topic, known)
    }
    return known
  }
  clear(): void {
    this.answers.clear()
  }
}

/** mqemitter's Qlobber, as far as it is touched here. */
interface Matcher {
  match(topic: string): unknown[]
  add(...args: unknown[]): unknown
  remove(...args: unknown[]): unknown
}

export type RememberingEmitter = MQEmitter & {
  /** whether any listener hears `topic` now */
  reaches(topic: string): boolean
}

export function rememberingEmitter(): RememberingEmitter {
  // concurrency 0: no queue (broker/index.ts says why); '+' matches an empty level, as in Aedes
  const emitter = mqemitter({ concurrency: 0, matchEmptyLevels: true })
  // mqemitter 7 keeps its Qlobber as `_matcher`, and changes listeners only through its add and
  // remove (removeListener removes a turn later): forgetting there is never too early
  const matcher = (emitter as unknown as { _matcher: Matcher })._matcher
  const { match, add, remove } = { match: matcher.match, add: matcher.add, remove: matcher.remove }
  const matchNow = (topic: string) => match.call(matcher, topic)
  const remembered = new TopicAnswers<unknown[]>()
  matcher.add = (...args) => {
    const result = add.apply(matcher, args)
    remembered.clear()
    return result
  }
  matcher.remove = (...args) => {
    const result = remove.apply(matcher, args)
    remembered.clear()
    return result
  }
  matcher.match = (topic) => remembered.get(topic, matchNow)
  return Object.assign(emitter, { reaches: (topic: string) => matcher.match(topic).length > 0 })
}
