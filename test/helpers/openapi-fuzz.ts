// Fuzzing a live server from its OpenAPI document, the way Schemathesis does: for each operation,
// requests generated with fast-check from the document's JSON schemas (its path and query parameters
// and its bodies), valid and deliberately broken, sent with every kind of credential (none, a system
// admin's and an organization admin's session, a user key, a controller key). Each answer must be
// documented: no 5xx, a status the operation lists, a body that matches the schema of that status.
// Used by test/integration/openapi-fuzz.test.ts (bounded) and bench/faults/openapi-fuzz.ts (long).
import fc from 'fast-check'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { basicAuth } from './http.ts'

type Schema = Record<string, unknown>
/** field name → values that name existing things (paths, ids, addresses) */
type Hints = Record<string, fc.Arbitrary<unknown>>
interface Parameter {
  name: string
  in: 'path' | 'query'
  required: boolean
  schema: Schema
}
interface OperationDoc {
  parameters?: Parameter[]
  requestBody?: { content: Record<string, { schema: Schema }> }
  responses: Record<string, { $ref?: string; content?: Record<string, { schema: Schema }> }>
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, OperationDoc>>
  components: { responses: Record<string, { content: Record<string, { schema: Schema }> }> }
}

export interface FuzzOptions {
  url: string
  document: OpenApiDocument
  /** a system admin's sign-in, and the organization the fixtures go in */
  admin: { email: string; password: string }
  org: string
  seed: number
  /** stop after this long */
  ms: number
  /** requests generated per operation per round */
  batch?: number
  /** true while the server process is alive (a child process's exit code, or always for an in-process server) */
  alive: () => boolean
  log?: (line: string) => void
}

export interface FuzzResult {
  operations: number
  requests: number
  /** "GET /api/v1/keys 200" → count */
  statuses: Map<string, number>
  failures: string[]
  seed: number
  lastStatus?: number
}

interface Credential {
  name: string
  headers: Record<string, string>
}

interface Request {
  /** the document's path, "/api/v1/keys/{id}" */
  route: string
  method: string
  path: string
  query: [string, string][]
  body?: { type: string; text: string }
  credential: string
  valid: boolean
}

const MAX_FAILURES = 50

export async function fuzzOpenApi(options: FuzzOptions): Promise<FuzzResult> {
  const log = options.log ?? (() => {})
  const result: FuzzResult = { operations: 0, requests: 0, statuses: new Map(), failures: [], seed: options.seed }
  const fixtures = new Fixtures(options)
  await fixtures.build()
  const checker = new ResponseChecker(options.document)
  const ops = Object.entries(options.document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  )
  result.operations = ops.length
  const deadline = Date.now() + options.ms
  const batch = options.batch ?? 4
  let suspect = false
  for (let round = 0; Date.now() < deadline && result.failures.length < MAX_FAILURES; round++) {
    for (const [i, { path, method, op }] of ops.entries()) {
      if (Date.now() >= deadline) break
      // the credentials and fixtures a previous request may have ended (a sign-out, a revoked key, a deleted folder)
      if (suspect) await fixtures.heal()
      suspect = false
      const requests = fc.sample(requestOf(path, method, op, fixtures), {
        seed: options.seed + round * 1000 + i,
        numRuns: batch,
      })
      for (const request of requests) {
        const failure = await send(options.url, request, fixtures.credential(request.credential), checker, result)
        suspect ||= mayHaveEnded(request, result.lastStatus)
        if (failure) {
          result.failures.push(failure)
          log(`FAIL ${failure}`)
        }
        if (!options.alive()) {
          result.failures.push(`the server died after ${describe(request)}`)
          return result
        }
      }
    }
    if (round % 10 === 9) log(`round ${round + 1}: ${result.requests} requests, ${result.failures.length} failures`)
  }
  return result
}

/**
 * A credential refused, or a change that may have ended one or a fixture (a sign-out, a deletion, a move, a user
 * changed).
 */
const mayHaveEnded = (r: Request, status?: number) =>
  (status === 401 && r.credential !== 'anonymous') ||
  (status === 200 && r.method !== 'get' && (r.method === 'delete' || r.method === 'put' || r.route === '/sign-out'))

const describe = (r: Request) =>
  `${r.method.toUpperCase()} ${r.path}${r.query.length ? '?' + new URLSearchParams(r.query) : ''} as ${r.credential} (${r.valid ? 'valid' : 'invalid'})${r.body ? ` ${r.body.type} ${r.body.text.slice(0, 200)}` : ''}`

async function send(
  url: string,
  request: Request,
  credential: Credential,
  checker: ResponseChecker,
  result: FuzzResult,
): Promise<string | undefined> {
  const target = url + request.path + (request.query.length ? '?' + new URLSearchParams(request.query).toString() : '')
  const headers: Record<string, string> = { ...credential.headers, 'x-forwarded-for': randomAddress() }
  if (request.body) headers['content-type'] = request.body.type
  let res: globalThis.Response
  let text: string
  try {
    res = await fetch(target, {
      method: request.method.toUpperCase(),
      headers,
      body: request.body?.text,
      signal: AbortSignal.timeout(15_000),
    })
    text = await res.text()
  } catch (err) {
    return `${describe(request)}: no answer (${(err as Error).message})`
  } finally {
    result.requests++
  }
  const counted = `${request.method.toUpperCase()} ${request.route} ${res.status}`
  result.statuses.set(counted, (result.statuses.get(counted) ?? 0) + 1)
  result.lastStatus = res.status
  // TENDRIL_FUZZ_TRACE=<route> prints each request to that route and its answer (to see why few succeed)
  if (process.env.TENDRIL_FUZZ_TRACE === request.route)
    console.log(`${describe(request)} → ${res.status} ${text.slice(0, 160)}`)
  if (res.status >= 500) return `${describe(request)}: ${res.status} ${text.slice(0, 300)}`
  const problem = checker.check(request.route, request.method, res.status, res.headers.get('content-type') ?? '', text)
  return problem ? `${describe(request)}: ${res.status} ${problem}` : undefined
}

/**
 * Each request looks as if from another client: the per-address limits (sign-in, PINs) stay out of the way, as for a
 * crowd.
 */
const randomAddress = () => `10.${rand(256)}.${rand(256)}.${1 + rand(254)}`
const rand = (n: number) => Math.floor(Math.random() * n)

// ---- what is checked ----

class ResponseChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false })
  private readonly validators = new Map<string, ReturnType<Ajv2020['compile']>>()
  constructor(private readonly document: OpenApiDocument) {
    this.ajv.addSchema(document as never, 'doc')
  }

  /** undefined when the answer is documented; else what is wrong with it */
  check(route: string, method: string, status: number, contentType: string, text: string): string | undefined {
    const responses = this.document.paths[route]![method]!.responses
    let response = responses[String(status)]
    if (!response) return `status not documented (${Object.keys(responses).join(', ')}): ${text.slice(0, 200)}`
    let pointer = `#/paths/${escape(route)}/${method}/responses/${status}`
    if (response.$ref) {
      const name = response.$ref.split('/').at(-1)!
      response = this.document.components.responses[name]!
      pointer = `#/components/responses/${name}`
    }
    const mediaType = contentType.split(';')[0]!.trim()
    const content = response.content ?? {}
    if (Object.keys(content).length === 0) return undefined
    if (!content[mediaType])
      return `content type ${mediaType || '(none)'} not documented (${Object.keys(content).join(', ')})`
    if (mediaType !== 'application/json') return undefined
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      return `not JSON: ${text.slice(0, 200)}`
    }
    const ref = `doc${pointer}/content/${escape(mediaType)}/schema`
    let validate = this.validators.get(ref)
    if (!validate) this.validators.set(ref, (validate = this.ajv.compile({ $ref: ref })))
    if (validate(body)) return undefined
    return `body breaks the schema (${this.ajv.errorsText(validate.errors)}): ${text.slice(0, 300)}`
  }
}

const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1')

// ---- fixtures and credentials, through the API itself ----

class Fixtures {
  private credentials = new Map<string, Credential>()
  private generation = 0
  private member = { email: '', password: '' }
  readonly samples = {
    paths: [] as string[],
    ids: [] as number[],
    names: [] as string[],
    emails: [] as string[],
    pins: [] as number[],
    pinCodes: [] as string[],
  }
  constructor(private readonly options: FuzzOptions) {}

  hints(): Hints {
    const { paths, ids, emails } = this.samples
    const path = fc.constantFrom(...paths.filter((p) => !p.startsWith('self')))
    const id = fc.constantFrom(...ids)
    return {
      folder_path: path,
      controller_path: path,
      controller: path,
      path,
      parent: path,
      access_as_controller_id: id,
      access_as_user_id: id,
      organization_id: id,
      user_id: id,
      rev: id,
      if_revision: id,
      email_address: fc.oneof(fc.constantFrom(...emails), fc.emailAddress()),
      password: fc.constantFrom('a long enough password', 'another long password'),
      type: fc.constantFrom(
        'reboot',
        'update',
        'update_sequence',
        'watchdog',
        '10',
        '12',
        '20',
        '21',
        'folder',
        'sequence',
      ),
      parameters: fc.constantFrom(
        {},
        { sequence: `${this.options.org}/lab/pi/temp`, value: '1.5' },
        { temp: 1, $t: 'x' },
      ),
      data_type: fc.constantFrom(1, 2, 3),
      values: fc.constantFrom(
        { [`${this.options.org}/lab/pi/temp`]: 2.5 },
        { [`/${this.options.org}/lab/pi/note`]: 'hi' },
      ),
      data: fc.base64String({ maxLength: 40 }),
      contents: fc.oneof(fc.base64String({ maxLength: 40 }), fc.string({ maxLength: 20 })),
      value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }).map(String), fc.string({ maxLength: 20 })),
      name: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}(\.txt)?$/),
      is_admin: fc.constantFrom(0, 1, 'true', 'false'),
      system_admin: fc.constantFrom(0, 1),
      system_attributes: fc.constantFrom({}, '{}', { units: 'C' }, { watchdog_recipients: 'x@example.com' }),
      user_attributes: fc.constantFrom({}, '{"a":1}', { note: 'x' }),
      status: fc.constantFrom({}, { ip: '10.0.0.1' }, '{"uptime":5}'),
      permissions: fc.constantFrom(null, 'null', '[]', [[100, 0, 10]], [[110, 1, 20]]),
      decimal_places: fc.integer({ min: 0, max: 4 }),
      max_history: fc.integer({ min: 1, max: 1000 }),
      min_storage_interval: fc.integer({ min: 0, max: 60 }),
      full_name: fc.string({ minLength: 1, maxLength: 30 }),
      pin_code: fc.constantFrom(...this.samples.pinCodes),
      ...Object.fromEntries(
        ['timestamp', 'start_timestamp', 'end_timestamp', 'creation_timestamp', 'modification_timestamp'].map((k) => [
          k,
          isoDate,
        ]),
      ),
      count: fc.integer({ min: 1, max: 200 }),
      buckets: fc.integer({ min: 1, max: 50 }),
    }
  }

  credential(name: string): Credential {
    return this.credentials.get(name)!
  }
  get names(): string[] {
    return [...this.credentials.keys()]
  }

  private async call(method: string, path: string, who: Credential | undefined, body?: unknown) {
    const res = await fetch(this.options.url + path, {
      method,
      headers: {
        ...who?.headers,
        'x-forwarded-for': '192.0.2.1',
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    })
    return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> }
  }

  private async signIn(email: string, password: string): Promise<Credential> {
    const res = await fetch(`${this.options.url}/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '192.0.2.1' },
      body: JSON.stringify({ email_address: email, password }),
    })
    if (res.status !== 200) throw new Error(`sign-in of ${email}: ${res.status} ${await res.text()}`)
    const { csrf_token } = (await res.json()) as { csrf_token: string }
    return { name: '', headers: { cookie: res.headers.get('set-cookie')!.split(';')[0]!, 'x-csrf-token': csrf_token } }
  }

  /**
   * The organization's folders, a controller with sequences and a file; an organization admin; their sessions and keys.
   */
  async build(): Promise<void> {
    const org = this.options.org
    const admin = {
      ...(await this.signIn(this.options.admin.email, this.options.admin.password)),
      name: 'system admin session',
    }
    const create = async (body: Record<string, unknown>) => {
      const { status, json } = await this.call('POST', '/api/v1/resources', admin, body)
      if (status !== 200 && status !== 409)
        throw new Error(`fixture ${JSON.stringify(body)}: ${status} ${JSON.stringify(json)}`)
    }
    // again when a system admin's request deleted it (409 otherwise)
    await this.call('POST', '/api/v1/organizations', admin, { folder_name: org })
    await create({ path: org, name: 'lab', type: 10 })
    await create({ path: `${org}/lab`, name: 'pi', type: 12 })
    await create({ path: `${org}/lab/pi`, name: 'temp', type: 21, data_type: 1, decimal_places: 2 })
    await create({ path: `${org}/lab/pi`, name: 'note', type: 21, data_type: 2 })
    await create({ path: `${org}/lab`, name: 'notes.txt', type: 20, data: Buffer.from('notes').toString('base64') })
    const email = `member-${++this.generation}-${Date.now()}@example.com`
    const password = 'a long enough password'
    this.member = { email, password }
    const created = await this.call('POST', '/api/v1/users', admin, { email_address: email, password })
    if (created.status !== 200) throw new Error(`member: ${created.status} ${JSON.stringify(created.json)}`)
    const userId = created.json.id as number
    const joined = await this.call('POST', `/api/v1/organizations/${org}/users`, admin, {
      user_id: userId,
      is_admin: 1,
    })
    if (joined.status !== 200) throw new Error(`membership: ${joined.status} ${JSON.stringify(joined.json)}`)
    const member = { ...(await this.signIn(email, password)), name: 'organization admin session' }
    const userKey = await this.call('POST', '/api/v1/keys', member, {})
    const controllerKey = await this.call('POST', '/api/v1/keys', member, { controller_path: `${org}/lab/pi` })
    if (userKey.status !== 200 || controllerKey.status !== 200)
      throw new Error(`keys: ${userKey.status} ${controllerKey.status}`)
    const keyOf = (name: string, secret: unknown): Credential => ({
      name,
      headers: { authorization: basicAuth(String(secret)) },
    })
    this.credentials = new Map([
      ['anonymous', { name: 'anonymous', headers: {} }],
      [admin.name, admin],
      [member.name, member],
      ['user key', keyOf('user key', userKey.json.secret_key)],
      ['controller key', keyOf('controller key', controllerKey.json.secret_key)],
    ])
    const orgInfo = await this.call('GET', `/api/v1/organizations/${org}`, member)
    this.samples.paths = [
      org,
      `${org}/lab`,
      `${org}/lab/pi`,
      `${org}/lab/pi/temp`,
      `${org}/lab/pi/note`,
      `${org}/lab/notes.txt`,
      `${org}/lab/missing`,
      'self',
      'self/temp',
      'other-org/x',
    ]
    this.samples.names = [org]
    // a PIN waiting to be entered (PUT) and polled (GET)
    const pin = await this.call('POST', '/api/v1/pins', undefined)
    this.samples.pins = [Number(pin.json.pin) || 1]
    this.samples.pinCodes = [String(pin.json.pin_code ?? 'x')]
    // not the admin's: failed sign-ins with it would lock the account the fuzzer heals through
    this.samples.emails = [email]
    this.samples.ids = [
      Number(orgInfo.json.id) || 1,
      userId,
      Number(userKey.json.id) || 1,
      Number(controllerKey.json.id) || 1,
    ]
  }

  /** Signs in again when a request signed a session out; rebuilds the rest when a key, a user or a fixture is gone. */
  async heal(): Promise<void> {
    for (const [name, account] of [
      ['system admin session', this.options.admin],
      ['organization admin session', this.member],
    ] as const) {
      if ((await this.call('GET', '/api/v1/session', this.credential(name))).status === 200) continue
      const again = await this.signIn(account.email, account.password).catch(() => undefined)
      if (!again) return this.build() // the member was deleted
      this.credentials.set(name, { ...again, name })
    }
    const checks: [string, string][] = [
      ['user key', '/api/v1/users/current'],
      ['controller key', `/api/v1/resources/${this.options.org}/lab/pi/temp?meta=1`],
      ['organization admin session', `/api/v1/resources/${this.options.org}/lab/notes.txt?meta=1`],
      ['organization admin session', `/api/v1/resources/${this.options.org}/lab/pi/note?meta=1`],
    ]
    for (const [name, path] of checks) {
      if ((await this.call('GET', path, this.credential(name))).status !== 200) return this.build()
    }
  }
}

// ---- generating requests from the document ----

const isoDate = fc
  .date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString())

const junk = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    '',
    ' ',
    '-1',
    '0',
    '1e309',
    'NaN',
    '9'.repeat(30),
    '../..',
    '%',
    '%zz',
    '\u0000',
    'x'.repeat(5000),
    '[]',
    '{}',
    '{"a":',
    'null',
    'true',
    '2026-13-45T99:99:99Z',
    '*',
    '#',
    '$SYS',
  ),
)

/**
 * An arbitrary of values that a JSON schema (as z.toJSONSchema writes them) accepts, more or less: the server is the
 * judge.
 */
export function valueOf(schema: Schema, hints: Hints = {}): fc.Arbitrary<unknown> {
  if (Array.isArray(schema.anyOf)) return fc.oneof(...(schema.anyOf as Schema[]).map((s) => valueOf(s, hints)))
  if ('const' in schema) return fc.constant(schema.const)
  if (Array.isArray(schema.type))
    return fc.oneof(...(schema.type as string[]).map((type) => valueOf({ ...schema, type }, hints)))
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]))
  switch (schema.type) {
    case 'string':
      if (typeof schema.pattern === 'string') return fc.stringMatching(new RegExp(schema.pattern), { size: 'small' })
      return fc.string({
        minLength: (schema.minLength as number) ?? 0,
        maxLength: Math.min((schema.maxLength as number) ?? 30, 60),
      })
    case 'integer': {
      const min =
        (schema.minimum as number) ??
        ((schema.exclusiveMinimum as number) ?? -(2 ** 31)) + ('exclusiveMinimum' in schema ? 1 : 0)
      const max = Math.min((schema.maximum as number) ?? 2 ** 53 - 1, Number.MAX_SAFE_INTEGER)
      return fc.oneof(
        fc.integer({ min: Math.max(min, 0), max: Math.max(Math.min(max, 60), Math.max(min, 0)) }),
        fc.maxSafeInteger().filter((n) => n >= min && n <= max),
      )
    }
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true })
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array':
      return fc.array(schema.items ? valueOf(schema.items as Schema) : fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 })
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>
      if (Object.keys(properties).length === 0)
        return fc.dictionary(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })
      const required = (schema.required as string[]) ?? []
      const record: Record<string, fc.Arbitrary<unknown>> = {}
      for (const [name, property] of Object.entries(properties)) {
        // a field that names something: often a thing that exists, so the request gets past the lookup
        const value = hints[name]
          ? fc.oneof({ weight: 2, arbitrary: hints[name] }, { weight: 1, arbitrary: valueOf(property, hints) })
          : valueOf(property, hints)
        // an optional field nothing hints at is mostly left out, so more requests are whole enough to succeed
        record[name] = required.includes(name)
          ? value
          : fc.oneof(
              { weight: hints[name] ? 1 : 3, arbitrary: fc.constant(undefined) },
              { weight: 1, arbitrary: value },
            )
      }
      return fc.record(record).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)))
    }
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

/** An object that breaks its schema: a field of the wrong kind, a required one left out, or fields nobody asked for. */
function brokenObject(schema: Schema, hints: Hints): fc.Arbitrary<Record<string, unknown>> {
  const names = Object.keys((schema.properties ?? {}) as object)
  const valid = valueOf(schema, hints) as fc.Arbitrary<Record<string, unknown>>
  const wrongField = names.length
    ? fc.tuple(valid, fc.constantFrom(...names), junk).map(([v, name, bad]) => ({ ...v, [name]: bad }))
    : junk.map((bad) => ({ x: bad }))
  const missing = fc
    .tuple(valid, fc.subarray(names))
    .map(([v, drop]) => Object.fromEntries(Object.entries(v).filter(([k]) => !drop.includes(k))))
  const extra = fc
    .tuple(valid, fc.dictionary(fc.string({ maxLength: 12 }), junk, { maxKeys: 3 }))
    .map(([v, more]) => ({ ...more, ...v }))
  return fc.oneof(wrongField, missing, extra)
}

const asText = (v: unknown) =>
  typeof v === 'string' ? v : v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)

function pathValue(name: string, schema: Schema, fixtures: Fixtures, valid: boolean): fc.Arbitrary<string> {
  if (name === 'path') {
    const known = fc.constantFrom(...fixtures.samples.paths)
    const random = fc
      .array(
        fc.oneof(
          fc.string({ minLength: 1, maxLength: 12 }),
          fc.constantFrom('..', '.', 'self', '%2F', '$SYS', '+', '#'),
        ),
        { minLength: 1, maxLength: 4 },
      )
      .map((s) => s.join('/'))
    const under = fc.tuple(known, fc.string({ minLength: 1, maxLength: 12 })).map(([p, s]) => `${p}/${s}`)
    return valid
      ? fc.oneof({ weight: 4, arbitrary: known }, { weight: 1, arbitrary: under })
      : fc.oneof(known, random, under)
  }
  const known = fc.constantFrom(
    ...(name === 'pin' ? fixtures.samples.pins : fixtures.samples.ids).map(String),
    ...fixtures.samples.names,
    'current',
    'self',
  )
  // an empty segment would name another route ("/api/v1/organizations/" is the list)
  return (valid ? fc.oneof(known, valueOf(schema).map(asText)) : fc.oneof(known, junk.map(asText))).filter(
    (v) => v !== '',
  )
}

const encodePath = (value: string, name: string) =>
  name === 'path' ? value.split('/').map(encodeURIComponent).join('/') : encodeURIComponent(value)

function requestOf(route: string, method: string, op: OperationDoc, fixtures: Fixtures): fc.Arbitrary<Request> {
  const pathParams = (op.parameters ?? []).filter((p) => p.in === 'path')
  const queryParams = (op.parameters ?? []).filter((p) => p.in === 'query')
  const querySchema: Schema = {
    type: 'object',
    properties: Object.fromEntries(queryParams.map((p) => [p.name, p.schema])),
    required: queryParams.filter((p) => p.required).map((p) => p.name),
  }
  const bodySchema = op.requestBody?.content['application/json']?.schema
  return fc
    .record({
      valid: fc.boolean(),
      credential: fc.constantFrom(...fixtures.names),
      form: fc.boolean(),
      raw: fc.option(fc.constantFrom('{', '{"a":1', '[1,2', '"\\ud800"', 'null', '[]', '\u0000', 'a=1&a=2&a[b]=3'), {
        freq: 8,
      }),
    })
    .chain(({ valid, credential, form, raw }) => {
      const params = fc.tuple(
        ...pathParams.map((p) => pathValue(p.name, p.schema, fixtures, valid).map((v) => [p.name, v] as const)),
      )
      const hints = fixtures.hints()
      const query = queryParams.length
        ? valid
          ? valueOf(querySchema, hints)
          : brokenObject(querySchema, hints)
        : fc.constant({})
      const body = bodySchema
        ? valid
          ? valueOf(bodySchema, hints)
          : brokenObject(bodySchema, hints)
        : fc.constant(undefined)
      return fc.record({ params, query, body }).map(({ params, query, body }): Request => {
        let path = route
        for (const [name, value] of params) path = path.replace(`{${name}}`, encodePath(value, name))
        const request: Request = {
          route,
          method,
          path,
          query: Object.entries(query as Record<string, unknown>).map(([k, v]) => [k, asText(v)]),
          credential,
          valid,
        }
        if (body !== undefined) {
          if (!valid && raw)
            request.body = { type: form ? 'application/x-www-form-urlencoded' : 'application/json', text: raw }
          else if (form)
            request.body = {
              type: 'application/x-www-form-urlencoded',
              text: new URLSearchParams(Object.entries(body as object).map(([k, v]) => [k, asText(v)])).toString(),
            }
          else request.body = { type: 'application/json', text: JSON.stringify(body) }
        }
        return request
      })
    })
}
