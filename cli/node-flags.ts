// The V8 flags the server runs with: `npm start` and the `tendril` command pass them (package.json,
// bin/tendril.js's first line), and so do the benchmarks (bench/lib/as-served.ts). Flags of the
// young generation can only be set when node starts.
//
// --max-semi-space-size=64 (MiB; node's default is 16): the broker allocates a few short-lived
// objects per message, and with the default young generation the garbage collector took 15-18% of
// the broker's CPU relaying messages to a folder (bench/mqtt-throughput.ts), 4-5% with 64.
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=64'] as const

/**
 * The V8 flags a `--workers` primary adds for its workers. With a worker on every core there is no
 * spare core for the scavenger's helper threads: they only contend with the workers, which then spent
 * more CPU per message relayed (bench/README.md).
 */
export function workerNodeFlags(workers: number, cores: number): string[] {
  return workers >= cores ? ['--no-parallel-scavenge'] : []
}
