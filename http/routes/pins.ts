// /api/v1/pins: controller provisioning by PIN, rhizo's contract (main/api/pins.py) kept exactly:
// POST (anonymous) → {status, pin, pin_code}; GET /<pin>?pin_code= → {status} or, once,
// {status, controller_path, secret_key}; PUT /<pin> with controller=<path> by a signed-in user.
// Expired PINs answer 410 with rhizo's message.
// Asking for a PIN and polling it need no credentials, so those two routes do not read any: rhizo's
// client, having no key yet, sends HTTP Basic with the password "x" (rhizo/resources.py FileClient),
// which rhizo-server took for no key at all. They are mounted before authentication (http/app.ts).
import express, { Router, type Response } from 'express'
import { z } from 'zod'
import { enterPin, pollPin, requestPin } from '../../core/accounts/pins.ts'
import { asUser } from '../../core/accounts/roles.ts'
import type { Throttles } from '../../core/accounts/throttle.ts'
import type { Core } from '../../core/index.ts'
import { invalid, rateLimited, TendrilError } from '../../core/errors.ts'
import { ANONYMOUS_BODY_LIMIT, asAnonymous } from '../auth.ts'
import { errorBody } from '../errors.ts'
import { requestValues } from '../request-values.ts'
import { committedToDisk } from '../../core/db/sqlite-connection.ts'

/** PIN requests per address (each stores a row), and failed PIN entries per user (guessing). */
export const PIN_LIMITS = {
  requestsPerAddress: { max: 30, windowMs: 10 * 60_000 },
  failedEntriesPerUser: { max: 10, windowMs: 15 * 60_000 },
}

export const pinParam = z.coerce.number().int().min(0).max(99_999_999)
export const pollQuery = z.object({ pin_code: z.string().min(1).max(200) })
export const enterBody = z.object({ controller: z.string().min(1).max(4000) })

const expired = (res: Response) => res.status(410).json(errorBody('expired', 'PIN has expired.'))

function parsePin(raw: unknown): number {
  const pin = pinParam.safeParse(raw)
  if (!pin.success) throw invalid('a PIN is a number')
  return pin.data
}

/** POST /api/v1/pins and GET /api/v1/pins/<pin>: a controller without a key asks and polls. */
export function pinRequestRoutes(core: Core, throttles: Throttles): Router {
  const router = Router()
  const requests = throttles.limit('pin-request', PIN_LIMITS.requestsPerAddress)

  router.post('/api/v1/pins', ...asAnonymous, async (req, res) => {
    const address = req.ip ?? 'unknown'
    // every request counts: each one stores a row
    if (!(await requests.attempt(address))) throw rateLimited('too many PIN requests; try again later')
    const { pin, pinCode } = await requestPin(core)
    res.json({ status: 'ok', pin, pin_code: pinCode })
  })

  // mounted before the app's body parsers (rhizo's client sends pin_code as a form body, even on this GET)
  const smallBody = [
    express.urlencoded({ extended: false, limit: ANONYMOUS_BODY_LIMIT }),
    express.json({ limit: ANONYMOUS_BODY_LIMIT }),
  ]
  router.get('/api/v1/pins/:pin', ...asAnonymous, ...smallBody, async (req, res) => {
    const pin = parsePin(req.params.pin)
    const query = pollQuery.safeParse(requestValues(req))
    if (!query.success) throw invalid('pin_code is required')
    const result = await pollPin(core, pin, query.data.pin_code)
    if (result.state === 'expired') return expired(res)
    if (result.state === 'waiting') return res.json({ status: 'ok' })
    // a GET that hands out a key made just now: on disk first, as for any write (http/on-disk.ts)
    await committedToDisk(core.db)
    res.json({ status: 'ok', controller_path: result.controllerPath, secret_key: result.secretKey })
  })

  return router
}

/** PUT /api/v1/pins/<pin>: a signed-in user enters a PIN for a controller folder. */
export function pinEntryRoutes(core: Core, throttles: Throttles): Router {
  const router = Router()
  const failedEntries = throttles.limit('pin-entry', PIN_LIMITS.failedEntriesPerUser)

  router.put('/api/v1/pins/:pin', async (req, res) => {
    const user = asUser(res.locals.principal)
    const pin = parsePin(req.params.pin)
    const body = enterBody.safeParse(requestValues(req))
    if (!body.success) throw invalid('controller (the controller folder path) is required')
    const entrant = String(user.userId)
    if (!(await failedEntries.attempt(entrant))) throw rateLimited('too many failed PIN entries; try again later')
    try {
      const result = await enterPin(core, user, pin, body.data.controller)
      if (result.state === 'expired') return expired(res) // counted: guessing finds expired PINs too
      await failedEntries.refund(entrant)
      res.json({ status: 'ok' })
    } catch (err) {
      // a wrong PIN, and a controller path that is not there, count against the user; a refusal for a path they can see
      // does not
      if (!(err instanceof TendrilError && (err.code === 'not_found' || err.code === 'conflict')))
        await failedEntries.refund(entrant)
      throw err
    }
  })

  return router
}
