// Holds back the storing of sequence values, as a slow disk or a busy database would, so a test can
// act while a batch is being stored.
import type { Core } from '../../core/index.ts'

/**
 * Until the returned function is called, no sequence value is stored through `core`'s database:
 * SQLite's one connection is held by a transaction (so every other statement of that core waits
 * too), PostgreSQL's value table is locked (a server in another process on the same database waits
 * as well; reads go on).
 */
export async function holdValueWrites(core: Core): Promise<() => Promise<void>> {
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  let holding!: () => void
  const held = new Promise<void>((resolve) => (holding = resolve))
  const transaction = core.db.$transaction(
    async (tx) => {
      if (core.config.database.provider === 'postgresql')
        await tx.$executeRawUnsafe('LOCK TABLE "ResourceRevision" IN EXCLUSIVE MODE')
      holding()
      await released
    },
    { timeout: 60_000, maxWait: 10_000 },
  )
  await Promise.race([held, transaction])
  return async () => {
    release()
    await transaction
  }
}
