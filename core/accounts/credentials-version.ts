// A marker that changes whenever credentials may have lost their power: a key revoked, a controller
// or user deleted, a membership removed. Kept in the database so every instance and process sees it;
// the broker reads this one row every second and re-checks the keys of its live sessions only when
// it moved, instead of re-reading every connected key every second; REST's key cache (key-cache.ts)
// forgets what it verified when it moves. Both read it through core/change-markers.ts.
import { bumpMarker } from '../change-markers.ts'
import type { DbClient } from '../db/index.ts'

export function bumpCredentialsVersion(db: DbClient): Promise<void> {
  return bumpMarker(db, 'credentials')
}
