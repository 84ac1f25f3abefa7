// Diagnostics: wraps a Prisma client so that every model call made through it is counted
// ("resource.findUnique" -> n). Calls inside $transaction go through the transaction client and are not seen.
import type { Db } from '../../core/db/index.ts'

export interface QueryCounter {
  db: Db
  counts: Map<string, number>
  reset(): void
  /** "resource.findUnique 812, key.update 3" */
  summary(): string
}

/** The project functions on the current (sync + async) stack, innermost first: "findNearest<accessToPath<check". */
function projectCallers(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(3)
  const names = frames
    .filter((f) => /\/(broker|core|http)\//.test(f) && !f.includes('node_modules'))
    .map((f) => /at (?:async )?([\w.$<>]+) /.exec(f)?.[1] ?? '?')
  return names.slice(0, 5).join('<') || '?'
}

/** With callers, each count is also keyed by the project functions that made the call. */
export function countQueries(db: Db, options: { callers?: boolean } = {}): QueryCounter {
  const counts = new Map<string, number>()
  const delegates = new Map<string, unknown>()
  const wrapDelegate = (model: string, delegate: object) =>
    new Proxy(delegate, {
      get(target, op, receiver) {
        const value = Reflect.get(target, op, receiver)
        if (typeof value !== 'function' || typeof op !== 'string') return value
        return (...a: unknown[]) => {
          const key = options.callers ? `${model}.${op} from ${projectCallers()}` : `${model}.${op}`
          counts.set(key, (counts.get(key) ?? 0) + 1)
          return (value as (...x: unknown[]) => unknown).apply(target, a)
        }
      },
    })
  const proxy = new Proxy(db, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (
        typeof prop !== 'string' ||
        prop.startsWith('$') ||
        prop.startsWith('_') ||
        value === null ||
        typeof value !== 'object'
      ) {
        return typeof value === 'function' ? value.bind(target) : value
      }
      if (!delegates.has(prop)) delegates.set(prop, wrapDelegate(prop, value))
      return delegates.get(prop)
    },
  })
  return {
    db: proxy,
    counts,
    reset: () => counts.clear(),
    summary: () =>
      [...counts]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none',
  }
}
