// A value for a sequence that does not exist yet creates it when a controller sends it into a folder
// it owns: its controller folder, or a folder below that no other controller folder sits in. The
// first value decides the kind: numeric for a number, text otherwise, image for image bytes.
// Off with --auto-create-sequences false, or for one controller folder with its system attribute
// auto_create_sequences: false.
import type { CoreContext } from '../context.ts'
import type { Resource } from '../db/index.ts'
import { TendrilError, type ErrorCode } from '../errors.ts'
import { checkName, joinPath, splitPath } from './paths.ts'
import type { Principal } from './permissions.ts'
import { pathResolverFor } from './resolver.ts'
import { parseNumericValue } from './sequence-values.ts'
import { createSequence, findPath } from './tree.ts'
import { isFolderType, ResourceType, SequenceDataType } from './types.ts'

/** rhizo created sequences with max_history 10000 unless told otherwise. */
const MAX_HISTORY = 10_000

export type FirstValueOutcome = { sequence: Resource } | { refusal: string; code: ErrorCode }

/** Creates the missing sequence at path for its first value when the rule allows it; else says why not. */
export async function createOnFirstValue(
  ctx: CoreContext,
  principal: Principal,
  path: string,
  value: string | Buffer,
): Promise<FirstValueOutcome> {
  const missing = `sequence not found: ${path}`
  if (principal.kind !== 'controller') return { refusal: missing, code: 'not_found' }
  const names = splitPath(path)
  const chain = await findPath(ctx.db, joinPath(names.slice(0, -1)))
  const parent = chain?.at(-1)
  const owner = chain?.findLast((r) => r.type === ResourceType.controllerFolder)
  if (!parent || !isFolderType(parent.type) || owner?.id !== principal.controllerId) {
    return { refusal: `${missing} (a controller's values create sequences only in its own folder)`, code: 'not_found' }
  }
  if (!ctx.config.autoCreateSequences || turnedOff(owner.systemAttributes)) {
    return { refusal: `${missing} (creating sequences on their first value is turned off)`, code: 'not_found' }
  }
  try {
    const name = checkName(names.at(-1)!)
    const sequence = await createSequence(ctx.db, parent, name, {
      dataType: dataTypeOf(value),
      maxHistory: MAX_HISTORY,
    })
    pathResolverFor(ctx).forgetMissing(path)
    ctx.log.info(
      { path, dataType: (sequence.systemAttributes as { data_type: number }).data_type },
      'sequence created by its first value',
    )
    return { sequence }
  } catch (err) {
    if (!(err instanceof TendrilError)) throw err
    // created meanwhile by another value of the same batch or instance
    const existing = (await findPath(ctx.db, path))?.at(-1)
    if (err.code === 'conflict' && existing?.type === ResourceType.sequence) return { sequence: existing }
    return { refusal: `${path}: ${err.message}`, code: err.code }
  }
}

function turnedOff(systemAttributes: unknown): boolean {
  const setting = (systemAttributes as Record<string, unknown> | null)?.auto_create_sequences
  return (
    setting === false ||
    (typeof setting === 'string' && ['false', '0', 'no', 'off'].includes(setting.trim().toLowerCase())) ||
    setting === 0
  )
}

/** numeric for a number, image for image bytes (JPEG, PNG, GIF, WebP), text for anything else. */
export function dataTypeOf(value: string | Buffer) {
  if (Buffer.isBuffer(value)) {
    if (isImage(value)) return SequenceDataType.image
    value = value.toString('utf8')
  }
  try {
    parseNumericValue(value)
    return SequenceDataType.numeric
  } catch {
    return SequenceDataType.text
  }
}

const startsWith = (bytes: Buffer, prefix: number[], at = 0) => prefix.every((b, i) => bytes[at + i] === b)
const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0))

function isImage(bytes: Buffer): boolean {
  return (
    startsWith(bytes, [0xff, 0xd8, 0xff]) ||
    startsWith(bytes, [0x89, ...ascii('PNG\r\n'), 0x1a, 0x0a]) ||
    startsWith(bytes, ascii('GIF8')) ||
    (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8))
  )
}
