// Controller clock-drift correction for timestamps a controller sends with its values
// (PUT /api/v1/resources). rhizo-server's rule (main/api/resources.py, ResourceList.put), kept:
//   - a timestamp within DRIFT_TOLERANCE_S of the server clock is used as is;
//   - otherwise the controller's clock is taken to be off by drift = server now − timestamp. The
//     correction remembered for the controller (ControllerStatus.attributes.timestamp_correction) is
//     applied if it is within RECORRECT_S of that drift; if not, the drift becomes the new remembered
//     correction. Either way the value lands at timestamp + correction, near the server clock, so a
//     controller whose clock is hours off (no RTC, no NTP yet) still records in the right place.
//   - only controllers are corrected: a user key sending a timestamp means it (e.g. a backfill).
import { inTransaction, type Db } from '../db/index.ts'
import { asObject } from './attributes.ts'
import { mergeStatusAttributes } from './controller-status.ts'
import type { Principal } from './permissions.ts'

export const DRIFT_TOLERANCE_S = 30
export const RECORRECT_S = 100

export async function correctControllerTimestamp(
  db: Db,
  principal: Principal,
  timestamp: Date,
  now = new Date(),
): Promise<Date> {
  if (principal.kind !== 'controller') return timestamp
  const drift = (now.getTime() - timestamp.getTime()) / 1000
  if (Math.abs(drift) <= DRIFT_TOLERANCE_S) return timestamp
  const status = await db.controllerStatus.findUnique({
    where: { controllerId: principal.controllerId },
    select: { attributes: true },
  })
  const attributes = asObject(status?.attributes)
  let correction =
    typeof attributes.timestamp_correction === 'number' && Number.isFinite(attributes.timestamp_correction)
      ? attributes.timestamp_correction
      : 0
  if (Math.abs(correction - drift) > RECORRECT_S) {
    correction = drift
    // merged, not written whole: the status the controller reported stays beside it
    await inTransaction(db, (tx) => mergeStatusAttributes(tx, principal.controllerId, { timestamp_correction: drift }))
  }
  return new Date(timestamp.getTime() + correction * 1000)
}
