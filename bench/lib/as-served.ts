// Imported first by every benchmark that runs brokers in its own process: when node was started
// without the server's flags (cli/node-flags.ts, as `npm start` passes them), the benchmark runs
// itself again with them, so Tendril is measured as it is served and the references in the same
// process (bare Aedes) get the same runtime.
import { spawnSync } from 'node:child_process'
import { SERVER_NODE_FLAGS } from '../../cli/node-flags.ts'

if (!SERVER_NODE_FLAGS.every((flag) => process.execArgv.includes(flag))) {
  const again = spawnSync(
    process.execPath,
    [...SERVER_NODE_FLAGS, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  )
  process.exit(again.status ?? 1)
}
