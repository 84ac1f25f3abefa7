// /api/v1/messages: read a folder's message history, or send a message to a folder (rhizo's form
// fields folder_path, type, parameters), reaching MQTT and websocket subscribers like any other.
// Fields may come in the query string or the body, and folderPath is rhizo's other name for
// folder_path (main/api/messages.py read request.values.get('folderPath', …'folder_path')).
// Sequence values it carries (update, update_sequence) are stored and announced as MQTT's are.
import { Router, type Request } from 'express'
import { z } from 'zod'
import type { Core } from '../../core/index.ts'
import { invalid } from '../../core/errors.ts'
import { decodeMessage, formatTimestamp } from '../../core/messages/codecs.ts'
import { folderMessagesWithin } from '../../core/messages/history.ts'
import { folderFor, sendFolderMessageAtomically } from '../../core/messages/send.ts'
import type { MessageBus } from '../../core/messages/types.ts'
import { requestValues } from '../request-values.ts'

export const readQuery = z.object({
  folder_path: z.string().min(1),
  count: z.coerce.number().int().min(1).max(1000).default(100),
  type: z.string().min(1).max(40).optional(),
})
export const sendBody = z.object({
  folder_path: z.string().min(1),
  type: z.string(),
  parameters: z.unknown().optional(),
})

/** The request's fields, folderPath standing for folder_path when that is not given. */
function fieldsOf(req: Request) {
  const values = requestValues(req)
  if (values.folder_path === undefined && values.folderPath !== undefined) values.folder_path = values.folderPath
  return values
}

/** Form-encoded bodies carry parameters as a JSON string (as rhizo's client sends them). */
function parametersOf(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw ?? {}
  try {
    return JSON.parse(raw)
  } catch {
    throw invalid('parameters must be a JSON object')
  }
}

export function messageRoutes(core: Core, bus: MessageBus): Router {
  const router = Router()

  router.get('/api/v1/messages', async (req, res) => {
    const query = readQuery.safeParse(fieldsOf(req))
    if (!query.success) throw invalid('expected folder_path, and optionally count (1 to 1000) and type')
    const folder = await folderFor(core, res.locals.principal, query.data.folder_path, 'read')
    const { messages, truncated } = await folderMessagesWithin(core, folder.id, {
      count: query.data.count,
      type: query.data.type,
      maxBytes: core.config.historyResponseLimit,
    })
    // a list, as rhizo sent it: older messages left out over --history-response-limit are told in a header
    if (truncated) res.setHeader('Tendril-Truncated', 'true')
    res.json(
      messages.map((m) => ({
        id: m.id,
        type: m.type,
        timestamp: formatTimestamp(m.timestamp),
        parameters: m.parameters,
        sender_controller_id: m.senderControllerId,
        sender_user_id: m.senderUserId,
      })),
    )
  })

  router.post('/api/v1/messages', async (req, res) => {
    const body = sendBody.safeParse(fieldsOf(req))
    if (!body.success) throw invalid('expected folder_path, type and parameters')
    const message = decodeMessage(body.data.type, parametersOf(body.data.parameters))
    // all its values or none: a refused one is answered by its kind (403, 404, 400…), and nothing is stored
    await sendFolderMessageAtomically(core, bus, res.locals.principal, body.data.folder_path, message)
    res.json({ status: 'ok' })
  })

  return router
}
