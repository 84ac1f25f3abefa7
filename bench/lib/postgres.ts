// A private PostgreSQL server (test/harness/postgres.ts) for one benchmark run: openTestCore makes its
// databases on it, and it is killed even if the benchmark dies before stopping it.
import { startPostgres, type PostgresServer } from '../../test/harness/postgres.ts'

export async function startBenchPostgres(): Promise<PostgresServer> {
  const server = await startPostgres()
  process.env.TENDRIL_TEST_PG_URL = server.url
  const killNow = () => {
    try {
      process.kill(server.pid, 'SIGQUIT')
    } catch {
      // already gone
    }
  }
  process.once('exit', killNow)
  return {
    ...server,
    async stop() {
      process.off('exit', killNow)
      await server.stop()
    },
  }
}
