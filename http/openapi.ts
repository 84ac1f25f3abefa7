// The REST API's OpenAPI 3.1 document, built from the zod schemas the routes validate with (imported
// from their modules), so a field added to a route reaches the document. Every route of the app has
// an operation here: test/integration/openapi.test.ts walks the app's router and fails otherwise.
import { Router } from 'express'
import { z } from 'zod'
import type { Core } from '../core/index.ts'
import type { ErrorCode } from '../core/errors.ts'
import { version } from '../core/version.ts'
import { ANONYMOUS_BODY_LIMIT, SESSION_COOKIE } from './auth.ts'
import * as keys from './routes/keys.ts'
import * as messages from './routes/messages.ts'
import * as organizations from './routes/organizations.ts'
import * as pins from './routes/pins.ts'
import * as resources from './routes/resources/params.ts'
import * as sequences from './routes/sequences.ts'
import * as sessions from './routes/sessions.ts'
import * as users from './routes/users.ts'

/**
 * Every code an error body may carry: the core's (complete, or this fails to compile), a PIN's expiry, and the server's
 * own failure.
 */
const CORE_CODES: Record<ErrorCode, true> = {
  invalid: true,
  unauthorized: true,
  forbidden: true,
  not_found: true,
  conflict: true,
  too_large: true,
  rate_limited: true,
  unavailable: true,
  disk_full: true,
}
export const ERROR_CODES = [...Object.keys(CORE_CODES), 'expired', 'internal']

// ---- response shapes (what the routes answer; extra fields are allowed where the core adds them) ----

const int = z.number().int()
const timestamp = z.string().describe('ISO 8601 UTC, with a trailing Z')
const ok = z.looseObject({ status: z.literal('ok') })
const okId = ok.extend({ id: int })
const errorSchema = z
  .object({
    status: z.literal('error'),
    message: z.string(),
    error: z.object({ code: z.enum(ERROR_CODES as [string, ...string[]]), message: z.string() }),
  })
  .describe("rhizo's status and message, and a machine-readable error")
const byId = (item: z.ZodType) =>
  z.record(z.string().regex(/^\d+$/), item).describe('{"<id>": {…}} as rhizo listed them')
const organization = z.looseObject({
  id: int,
  name: z.string(),
  full_name: z.string(),
  path: z.string(),
  type: int,
  creation_timestamp: timestamp,
})
const member = z.looseObject({
  id: int,
  organization_id: int,
  user_id: int,
  is_admin: z.boolean(),
  email_address: z.string(),
  full_name: z.string(),
})
const user = z.looseObject({
  id: int,
  email_address: z.string(),
  full_name: z.string(),
  system_admin: z.boolean(),
  deleted: z.boolean(),
})
const key = z.looseObject({ id: int, key_part: z.string() })
const message = z.object({
  id: int,
  type: z.string(),
  timestamp,
  parameters: z.unknown(),
  sender_controller_id: int.nullable(),
  sender_user_id: int.nullable(),
})
const listing = z.array(z.looseObject({ id: int, name: z.string(), type: int }))
const history = z.looseObject({
  name: z.string(),
  path: z.string(),
  units: z.string().nullable(),
  timestamps: z.array(timestamp),
  values: z.array(z.string()),
  truncated: z.boolean().optional(),
})
const buckets = z.looseObject({
  name: z.string(),
  path: z.string(),
  start_timestamp: timestamp.nullable(),
  end_timestamp: timestamp.nullable(),
  buckets: z.array(
    z.object({
      start: timestamp,
      count: int,
      min: z.number().nullable(),
      mean: z.number().nullable(),
      max: z.number().nullable(),
    }),
  ),
})
const revisions = z.array(z.looseObject({ id: int, timestamp, size: int }))
const resourceJson = z.looseObject({ id: int, name: z.string(), type: int, path: z.string() })
const mqttInfo = ok.extend({
  host: z.string(),
  port: int,
  path: z.string(),
  protocol: z.enum(['ws', 'wss']),
  token: z.string(),
  expires_in: int,
  clientId: z.string(),
  anonymous: z.literal(true).optional(),
})

// ---- operations ----

/**
 * none: reads no credentials; optional: anonymous callers are served too (public folders, viewer tokens); required: a
 * key or a session.
 */
type Access = 'none' | 'optional' | 'required'
type Method = 'get' | 'post' | 'put' | 'delete'
interface Response {
  description: string
  /** media type → schema (a zod schema, or a plain JSON schema for bytes) */
  content?: Record<string, z.ZodType | Record<string, unknown>>
}
export interface Operation {
  method: Method
  /** the route as Express registers it (":id", "*path") */
  route: string
  summary: string
  tag: string
  access: Access
  params?: Record<string, z.ZodType>
  query?: z.ZodObject
  /** a JSON or form body (or multipart, with a file part) */
  body?: z.ZodObject
  bodyOnly?: boolean
  multipart?: boolean
  ok: Response
  /** statuses the route answers besides 200 and those every route of its kind answers */
  errors: number[]
}

const json = (schema: z.ZodType): Response['content'] => ({ 'application/json': schema })
const bytes = { type: 'string', contentMediaType: 'application/octet-stream' }
const resourcePath = {
  path: z
    .string()
    .describe(
      'a resource path, "org/folder/name", its slashes as they are; "self[/…]" is the calling controller’s folder',
    ),
}

export function operations(core: Core): Operation[] {
  const list: Operation[] = [
    {
      method: 'get',
      route: '/health',
      summary: 'liveness and version',
      tag: 'server',
      access: 'none',
      ok: { description: 'up', content: json(z.object({ status: z.literal('ok'), version: z.string() })) },
      errors: [],
    },
    {
      method: 'get',
      route: '/api/v1/openapi.json',
      summary: 'this document',
      tag: 'server',
      access: 'none',
      ok: { description: 'the OpenAPI document', content: json(z.looseObject({ openapi: z.string() })) },
      errors: [],
    },
    {
      method: 'post',
      route: '/sign-in',
      summary: 'sign in: a session cookie and its CSRF token',
      tag: 'sessions',
      access: 'optional',
      body: sessions.signInBody,
      bodyOnly: true,
      ok: {
        description: 'signed in (Set-Cookie)',
        content: json(
          ok.extend({
            user: z.looseObject({ id: int, email: z.string(), full_name: z.string() }),
            csrf_token: z.string(),
          }),
        ),
      },
      errors: [403, 429],
    },
    {
      method: 'post',
      route: '/sign-out',
      summary: 'end the session',
      tag: 'sessions',
      access: 'optional',
      ok: { description: 'signed out', content: json(ok) },
      errors: [],
    },
    {
      method: 'get',
      route: '/api/v1/session',
      summary: 'the signed-in user, organizations and CSRF token',
      tag: 'sessions',
      access: 'required',
      ok: {
        description: 'the session',
        content: json(
          ok.extend({
            user: z.looseObject({ id: int }),
            organizations: z.array(z.looseObject({ id: int, name: z.string() })),
            csrf_token: z.string(),
            upload_limit: int,
            password_min_length: int,
          }),
        ),
      },
      errors: [],
    },
    {
      method: 'get',
      route: '/api/v1/mqtt-info',
      summary: 'where and how a browser opens MQTT over /mqtt',
      tag: 'sessions',
      access: 'optional',
      ok: { description: 'a token and address', content: json(mqttInfo) },
      errors: [403],
    },
    {
      method: 'get',
      route: '/api/v1/messages',
      summary: "a folder's message history",
      tag: 'messages',
      access: 'required',
      query: messages.readQuery,
      ok: {
        description: 'oldest first (header Tendril-Truncated when older ones were left out)',
        content: json(z.array(message)),
      },
      errors: [403, 404],
    },
    {
      method: 'post',
      route: '/api/v1/messages',
      summary: 'send a message to a folder',
      tag: 'messages',
      access: 'required',
      body: messages.sendBody,
      ok: { description: 'sent', content: json(ok) },
      errors: [404, 409],
    },
    {
      method: 'get',
      route: '/api/v1/keys',
      summary: 'keys the caller manages',
      tag: 'keys',
      access: 'required',
      query: keys.keyQuery,
      ok: { description: 'keys by id', content: json(byId(key)) },
      errors: [403, 404],
    },
    {
      method: 'post',
      route: '/api/v1/keys',
      summary: 'create a controller or user key',
      tag: 'keys',
      access: 'required',
      body: keys.createKeyBody,
      ok: { description: 'the secret, shown once', content: json(ok.extend({ id: int, secret_key: z.string() })) },
      errors: [404, 409],
    },
    {
      method: 'delete',
      route: '/api/v1/keys/:id',
      summary: 'revoke a key',
      tag: 'keys',
      access: 'required',
      params: { id: keys.id },
      ok: { description: 'revoked', content: json(ok.extend({ key })) },
      errors: [404, 409],
    },
    {
      method: 'get',
      route: '/api/v1/organizations',
      summary: "the caller's organizations",
      tag: 'organizations',
      access: 'required',
      query: z.object({ extended: z.string().optional() }),
      ok: { description: 'organizations by id', content: json(byId(organization)) },
      errors: [403],
    },
    {
      method: 'post',
      route: '/api/v1/organizations',
      summary: 'create an organization',
      tag: 'organizations',
      access: 'required',
      body: organizations.createBody,
      ok: { description: 'created', content: json(ok.extend({ organization_id: int, organization })) },
      errors: [409],
    },
    {
      method: 'get',
      route: '/api/v1/organizations/:org',
      summary: 'one organization',
      tag: 'organizations',
      access: 'required',
      params: { org: orgParam() },
      ok: { description: 'the organization', content: json(organization) },
      errors: [403, 404],
    },
    {
      method: 'put',
      route: '/api/v1/organizations/:org',
      summary: "change an organization's full name",
      tag: 'organizations',
      access: 'required',
      params: { org: orgParam() },
      body: organizations.updateBody,
      ok: { description: 'changed', content: json(ok.extend({ organization })) },
      errors: [404],
    },
    {
      method: 'get',
      route: '/api/v1/organizations/:org/users',
      summary: 'members',
      tag: 'organizations',
      access: 'required',
      params: { org: orgParam() },
      ok: { description: 'members by id', content: json(byId(member)) },
      errors: [403, 404],
    },
    {
      method: 'post',
      route: '/api/v1/organizations/:org/users',
      summary: 'add an existing user',
      tag: 'organizations',
      access: 'required',
      params: { org: orgParam() },
      body: organizations.addBody,
      ok: { description: 'added', content: json(ok.extend({ organization_user: member })) },
      errors: [404, 409],
    },
    {
      method: 'put',
      route: '/api/v1/organizations/:org/users/:user',
      summary: 'make or unmake an organization admin',
      tag: 'organizations',
      access: 'required',
      params: { org: orgParam(), user: organizations.id },
      body: organizations.memberBody,
      ok: { description: 'changed', content: json(ok.extend({ organization_user: member })) },
      errors: [404, 409],
    },
    {
      method: 'delete',
      route: '/api/v1/organizations/:org/users/:user',
      summary: 'end a membership',
      tag: 'organizations',
      access: 'required',
      params: { org: orgParam(), user: organizations.id },
      ok: { description: 'ended', content: json(ok) },
      errors: [404, 409],
    },
    {
      method: 'get',
      route: '/api/v1/users',
      summary: 'every user (system admins)',
      tag: 'users',
      access: 'required',
      ok: { description: 'users by id', content: json(byId(user)) },
      errors: [403],
    },
    {
      method: 'post',
      route: '/api/v1/users',
      summary: 'create a user (system admins)',
      tag: 'users',
      access: 'required',
      body: users.createBody,
      bodyOnly: true,
      ok: { description: 'created', content: json(ok.extend({ id: int, user })) },
      errors: [409],
    },
    {
      method: 'get',
      route: '/api/v1/users/:user',
      summary: 'a user (oneself, or anyone for a system admin)',
      tag: 'users',
      access: 'required',
      params: { user: users.userParam },
      ok: { description: 'the user', content: json(user) },
      errors: [403, 404],
    },
    {
      method: 'put',
      route: '/api/v1/users/:user',
      summary: 'change a user',
      tag: 'users',
      access: 'required',
      params: { user: users.userParam },
      body: users.updateBody,
      bodyOnly: true,
      ok: { description: 'changed', content: json(ok.extend({ user })) },
      errors: [404, 409, 429],
    },
    {
      method: 'delete',
      route: '/api/v1/users/:user',
      summary: 'delete a user (system admins; soft)',
      tag: 'users',
      access: 'required',
      params: { user: users.userParam },
      ok: { description: 'deleted', content: json(ok) },
      errors: [403, 404],
    },
    {
      method: 'post',
      route: '/api/v1/pins',
      summary: 'a controller asks for a PIN',
      tag: 'pins',
      access: 'none',
      ok: { description: 'a PIN and its code', content: json(ok.extend({ pin: int, pin_code: z.string() })) },
      errors: [429],
    },
    {
      method: 'get',
      route: '/api/v1/pins/:pin',
      summary: 'a controller polls its PIN',
      tag: 'pins',
      access: 'none',
      params: { pin: pins.pinParam },
      query: pins.pollQuery,
      ok: {
        description: 'waiting, or once the controller path and key',
        content: json(ok.extend({ controller_path: z.string().optional(), secret_key: z.string().optional() })),
      },
      errors: [404, 410],
    },
    {
      method: 'put',
      route: '/api/v1/pins/:pin',
      summary: 'a signed-in user enters a PIN for a controller',
      tag: 'pins',
      access: 'required',
      params: { pin: pins.pinParam },
      body: pins.enterBody,
      ok: { description: 'entered', content: json(ok) },
      errors: [404, 409, 410, 429],
    },
    {
      method: 'get',
      route: '/api/v1/system/stats',
      summary: 'installation-wide counts (system admins)',
      tag: 'system',
      access: 'required',
      ok: { description: 'counts', content: json(z.record(z.string(), z.number())) },
      errors: [403],
    },
    {
      method: 'get',
      route: '/api/v1/system/controllers',
      summary: 'every controller and its presence (system admins)',
      tag: 'system',
      access: 'required',
      ok: {
        description: 'controllers by id',
        content: json(byId(z.looseObject({ id: int, name: z.string(), path: z.string(), connected: z.boolean() }))),
      },
      errors: [403],
    },
    {
      method: 'get',
      route: '/api/v1/resources/*path',
      summary: 'a folder listing, a file, a sequence value or history, or a resource as JSON',
      tag: 'resources',
      access: 'optional',
      params: resourcePath,
      query: z.object({ ...resources.resourceQuery.shape, ...sequences.readQuery.shape }),
      ok: {
        description: 'by the resource and options',
        content: {
          'application/json': z.union([listing, revisions, resourceJson, history, buckets]),
          'text/plain': { type: 'string' },
          'text/csv': { type: 'string' },
          'image/jpeg': bytes,
          'application/zip': bytes,
          'application/octet-stream': bytes,
        },
      },
      errors: [403, 404],
    },
    {
      method: 'post',
      route: '/api/v1/resources',
      summary: 'create a resource',
      tag: 'resources',
      access: 'optional',
      body: resources.createResourceBody,
      multipart: true,
      ok: { description: 'created', content: json(okId) },
      errors: [403, 404, 409],
    },
    {
      method: 'put',
      route: '/api/v1/resources',
      summary: 'values for several sequences at once, all or nothing',
      tag: 'resources',
      access: 'optional',
      body: sequences.multiBody,
      ok: { description: 'stored', content: json(ok.extend({ stored: int, skipped: int, timestamp })) },
      errors: [403, 404],
    },
    {
      method: 'post',
      route: '/api/v1/resources/*path',
      summary: "rhizo's legacy write: a file revision (created with its folders) or a sequence value",
      tag: 'resources',
      access: 'optional',
      params: resourcePath,
      body: resources.writeResourceBody,
      multipart: true,
      ok: { description: 'written', content: json(okId.extend({ stored: z.boolean().optional() })) },
      errors: [403, 404, 409],
    },
    {
      method: 'put',
      route: '/api/v1/resources/*path',
      summary: 'change a resource, give a file new content or a sequence a value',
      tag: 'resources',
      access: 'optional',
      params: resourcePath,
      body: resources.updateResourceBody,
      multipart: true,
      ok: { description: 'changed', content: json(okId.extend({ stored: z.boolean().optional() })) },
      errors: [403, 404, 409],
    },
    {
      method: 'delete',
      route: '/api/v1/resources/*path',
      summary: 'delete a resource and everything below it (soft), or only its revisions',
      tag: 'resources',
      access: 'optional',
      params: resourcePath,
      query: resources.deleteResourceQuery,
      ok: { description: 'deleted', content: json(okId) },
      errors: [403, 404],
    },
  ]
  if (core.config.metrics.enabled && core.config.metrics.port === undefined) {
    list.push({
      method: 'get',
      route: '/metrics',
      summary: 'Prometheus metrics',
      tag: 'server',
      access: 'none',
      ok: { description: 'text exposition format', content: { 'text/plain': { type: 'string' } } },
      errors: [401],
    })
  }
  return list
}

function orgParam() {
  return z.string().min(1).describe("the organization's id or folder name")
}

// ---- the document ----

const toSchema = (schema: z.ZodType | Record<string, unknown>, io: 'input' | 'output'): Record<string, unknown> => {
  if (!(schema instanceof z.ZodType)) return schema
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as Record<string, unknown>
  return rest
}

/** The statuses every route of a kind answers: the credentials read from the headers, the body, the server. */
function statusesOf(op: Operation): number[] {
  const statuses = new Set([200, ...op.errors, 500, 503])
  const unsafe = op.method !== 'get'
  if (op.access !== 'none') statuses.add(401) // a bad key, or no credentials
  if (op.access === 'none' && unsafe) statuses.add(401) // a body over the anonymous limit
  if (op.access !== 'none' && unsafe) statuses.add(403) // a session without its CSRF token
  if (unsafe || op.query || op.params) statuses.add(400)
  if (unsafe) statuses.add(413).add(507) // 507: the disk is full (core/disk-full.ts)
  return [...statuses].sort((a, b) => a - b)
}

const REASONS: Record<number, string> = {
  400: 'invalid request',
  401: 'no credentials, a bad key, or an anonymous body over the limit',
  403: 'not allowed (or a session request without its CSRF token)',
  404: 'not found, or not visible to the caller',
  409: 'conflict',
  410: 'expired',
  413: 'body too large',
  429: 'too many attempts',
  507: 'the disk is full: nothing was stored; try again later',
  500: 'internal error',
  503: 'the database does not answer (restarting, stopped): try again shortly',
}

function securityOf(op: Operation): Record<string, string[]>[] {
  if (op.access === 'none') return []
  const session: Record<string, string[]> = op.method === 'get' ? { session: [] } : { session: [], csrf: [] }
  const credentials: Record<string, string[]>[] = [session, { key: [] }]
  return op.access === 'optional' ? [{}, ...credentials] : credentials
}

function operationObject(op: Operation) {
  const parameters = [
    ...Object.entries(op.params ?? {}).map(([name, schema]) => ({
      name,
      in: 'path',
      required: true,
      schema: toSchema(schema, 'input'),
      ...(name === 'path' ? { description: schema.description } : {}),
    })),
    ...queryParameters(op.query),
  ]
  const responses: Record<string, unknown> = {}
  for (const status of statusesOf(op)) {
    if (status === 200) {
      responses[200] = {
        description: op.ok.description,
        content: Object.fromEntries(
          Object.entries(op.ok.content ?? {}).map(([type, schema]) => [type, { schema: toSchema(schema, 'output') }]),
        ),
      }
    } else {
      responses[status] = { $ref: `#/components/responses/E${status}` }
    }
  }
  return {
    operationId: operationId(op),
    summary: op.summary,
    tags: [op.tag],
    security: securityOf(op),
    ...(parameters.length ? { parameters } : {}),
    ...(op.body ? { requestBody: requestBody(op) } : {}),
    responses,
  }
}

function queryParameters(query: z.ZodObject | undefined) {
  if (!query) return []
  const schema = toSchema(query, 'input') as {
    properties?: Record<string, Record<string, unknown>>
    required?: string[]
  }
  return Object.entries(schema.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property
    return {
      name,
      in: 'query',
      required: schema.required?.includes(name) ?? false,
      schema: rest,
      ...(description ? { description } : {}),
    }
  })
}

function requestBody(op: Operation) {
  const schema = toSchema(op.body!, 'input')
  const content: Record<string, unknown> = {
    'application/json': { schema },
    'application/x-www-form-urlencoded': { schema },
  }
  if (op.multipart)
    content['multipart/form-data'] = {
      schema: {
        ...schema,
        properties: {
          ...(schema.properties as object),
          file: { type: 'string', contentMediaType: 'application/octet-stream' },
        },
      },
    }
  const where = op.bodyOnly
    ? 'the body only (never the query string)'
    : 'the body, or the query string (rhizo read both)'
  return { required: false, description: `fields in ${where}`, content }
}

const operationId = (op: Operation) =>
  op.method +
  op.route
    .split(/[/.-]/)
    .filter(Boolean)
    .map((part) => (part.startsWith(':') || part.startsWith('*') ? `By${cap(part.slice(1))}` : cap(part)))
    .join('')
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)

/** "/api/v1/keys/:id" → "/api/v1/keys/{id}" */
export const openApiPath = (route: string) => route.replace(/[:*](\w+)/g, '{$1}')

export function openApiDocument(core: Core) {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const op of operations(core)) (paths[openApiPath(op.route)] ??= {})[op.method] = operationObject(op)
  const responses = Object.fromEntries(
    Object.entries(REASONS).map(([status, description]) => [
      `E${status}`,
      { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    ]),
  )
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tendril REST API',
      version,
      description: `rhizo-compatible REST API (docs/rest.md). Parameters may come in the query string or the body on every method, except where said. A caller without credentials may send at most ${ANONYMOUS_BODY_LIMIT} bytes.`,
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/' }],
    tags: [...new Set(operations(core).map((op) => op.tag))].map((name) => ({ name, description: `${name} routes` })),
    paths,
    components: {
      schemas: { Error: toSchema(errorSchema, 'output') },
      responses,
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'from POST /sign-in' },
        csrf: {
          type: 'apiKey',
          in: 'header',
          name: 'X-CSRF-Token',
          description: "the session's csrf_token, on every session request that changes state (or a csrf_token field)",
        },
        key: {
          type: 'http',
          scheme: 'basic',
          description: 'HTTP Basic whose password is an API key (the username is the client version, ignored)',
        },
      },
    },
  }
}

/** GET /api/v1/openapi.json: public, like the API's documentation. */
export function openApiRoutes(core: Core): Router {
  const router = Router()
  let document: string | undefined
  router.get('/api/v1/openapi.json', (_req, res) => {
    document ??= JSON.stringify(openApiDocument(core))
    res.type('application/json').send(document)
  })
  return router
}
