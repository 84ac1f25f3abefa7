// The two markers that say "something cached may be wrong now": the credentials version (a key
// revoked, a controller, user or membership gone; accounts/credentials-version.ts) and the access
// version (permissions, renames, moves, deletes; resources/access-version.ts). Every cache of an open
// core that depends on them (the broker's session revalidation, REST's key and path caches) asks this
// one reader, so the database sees at most one read of the markers a second however many ask.
// A change made by this process is seen at once: bumping a marker also moves a local counter here.
import { randomUUID } from 'node:crypto'
import type { CoreContext } from './context.ts'
import type { DbClient } from './db/index.ts'

export const CREDENTIALS_VERSION_SETTING = 'credentials_version'
export const ACCESS_VERSION_SETTING = 'access_version'

/** How old a marker read may be before a cache that trusts it reads again. */
export const MARKER_MAX_AGE_MS = 1000

export interface Markers {
  /** the credentials version in the database, and how often this process moved it (changes before commit count) */
  credentials: string
  /** the same for the access version */
  access: string
}

const local = { credentials: 0, access: 0 }
const SETTINGS = { credentials: CREDENTIALS_VERSION_SETTING, access: ACCESS_VERSION_SETTING } as const

/** Moves a marker: every instance's caches that trust it forget within a second, this process's at once. */
export async function bumpMarker(db: DbClient, marker: keyof typeof SETTINGS): Promise<void> {
  const name = SETTINGS[marker]
  const value = randomUUID()
  local[marker]++ // this process's readers treat their last read as stale, even before the caller's transaction commits
  await db.serverSetting.upsert({ where: { name }, create: { name, value }, update: { value } })
}

export interface MarkerReader {
  /** the markers as read at most maxAgeMs ago, and never before this process's last own change */
  current(maxAgeMs?: number): Promise<Markers>
}

async function readMarkers(db: DbClient): Promise<{ credentials: string; access: string }> {
  const rows = await db.serverSetting.findMany({
    where: { name: { in: [CREDENTIALS_VERSION_SETTING, ACCESS_VERSION_SETTING] } },
  })
  return {
    credentials: rows.find((r) => r.name === CREDENTIALS_VERSION_SETTING)?.value ?? '',
    access: rows.find((r) => r.name === ACCESS_VERSION_SETTING)?.value ?? '',
  }
}

export function createMarkerReader(db: DbClient): MarkerReader {
  let last: { markers: Markers; at: number; counters: string } | undefined
  let inFlight: { counters: string; promise: Promise<Markers> } | undefined
  return {
    current(maxAgeMs = MARKER_MAX_AGE_MS) {
      const { credentials, access } = local
      const counters = `${credentials}|${access}`
      if (last && last.counters === counters && Date.now() - last.at < maxAgeMs) return Promise.resolve(last.markers)
      // concurrent askers share one read, but never one started before this process's last own change
      if (inFlight && inFlight.counters === counters && maxAgeMs > 0) return inFlight.promise
      const started = Date.now()
      const promise = readMarkers(db)
        .then((stored) => {
          const markers = { credentials: `${stored.credentials}#${credentials}`, access: `${stored.access}#${access}` }
          if (!last || started >= last.at) last = { markers, at: started, counters }
          return markers
        })
        .finally(() => {
          if (inFlight?.promise === promise) inFlight = undefined
        })
      inFlight = { counters, promise }
      return promise
    },
  }
}

const readers = new WeakMap<CoreContext, MarkerReader>()

/** The one marker reader of an open core. */
export function markerReaderFor(ctx: CoreContext): MarkerReader {
  let reader = readers.get(ctx)
  if (!reader) readers.set(ctx, (reader = createMarkerReader(ctx.db)))
  return reader
}
