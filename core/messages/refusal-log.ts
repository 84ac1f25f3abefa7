// A controller's refused values are written to its own `log` sequence, where its owner looks first:
// MQTT cannot tell a device a value was refused, so a new user would otherwise see nothing at all.
// The same refusal is written at most once a minute per controller, so a device that keeps sending
// the same bad value does not fill its log.
import type { CoreContext } from '../context.ts'
import { storeSequenceValues } from '../resources/sequence-store/store.ts'
import { findPath, pathOf } from '../resources/tree.ts'
import { ResourceType } from '../resources/types.ts'
import type { ValueRefusal } from './types.ts'

const REPEAT_AFTER_MS = 60_000
const REMEMBERED = 10_000

const lastWritten = new WeakMap<CoreContext, Map<string, number>>()

export async function recordRefusals(ctx: CoreContext, refused: ValueRefusal[]): Promise<void> {
  if (refused.length === 0) return
  const seen = lastWritten.get(ctx) ?? lastWritten.set(ctx, new Map()).get(ctx)!
  const now = Date.now()
  const lines = new Map<number, string[]>()
  for (const { request, reason } of refused) {
    if (request.principal.kind !== 'controller') continue
    const key = `${request.principal.controllerId}\n${reason}`
    if (now - (seen.get(key) ?? -Infinity) < REPEAT_AFTER_MS) continue
    if (seen.size >= REMEMBERED) seen.clear()
    seen.set(key, now)
    const controllerId = request.principal.controllerId
    lines.set(controllerId, [...(lines.get(controllerId) ?? []), `value not stored: ${reason}`])
  }
  for (const [controllerId, text] of lines) {
    try {
      const log = (await findPath(ctx.db, `${await pathOf(ctx.db, controllerId)}/log`))?.at(-1)
      if (log?.type !== ResourceType.sequence) continue
      await storeSequenceValues(ctx, ctx.blobs, [{ sequenceId: log.id, value: text.join('\n') }])
    } catch (err) {
      ctx.log.warn({ err, controllerId }, 'a refused value could not be written to the controller log')
    }
  }
}
