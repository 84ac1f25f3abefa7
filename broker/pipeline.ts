// How a list of named steps runs (aedes' runFall, without its allocations): a step answers at once
// when it can, so the common PUBLISH allocates nothing here; only a step that must wait returns a promise.

/** undefined passes the packet on, an Error refuses it, a promise gives one of those later. */
export type Verdict = Error | undefined | Promise<Error | undefined | void>

export type Step<Context, Client, Packet> = (ctx: Context, client: Client, packet: Packet) => Verdict

/** Runs `steps` from `from` on, then calls back once: with the first refusal, or null. */
export function runSteps<Context, Client, Packet>(
  steps: readonly Step<Context, Client, Packet>[],
  ctx: Context,
  client: Client,
  packet: Packet,
  callback: (err: Error | null) => void,
  from = 0,
): void {
  for (let i = from; i < steps.length; i++) {
    const verdict = steps[i]!(ctx, client, packet)
    if (verdict === undefined) continue
    if (verdict instanceof Error) return callback(verdict)
    return void verdict.then(
      (err) => (err ? callback(err) : runSteps(steps, ctx, client, packet, callback, i + 1)),
      callback,
    )
  }
  callback(null)
}
