// The OpenAPI document: served at /api/v1/openapi.json, naming every route the app registers (so a
// new route cannot be left out of it), built from the routes' own zod schemas, and clean under
// @redocly/cli's recommended rules (redocly.yaml).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { createApp } from '../../http/app.ts'
import { openApiDocument, openApiPath } from '../../http/openapi.ts'
import { SEQUENCE_SETTINGS } from '../../core/resources/attributes.ts'
import { CHANGE_FIELDS, updateResourceBody } from '../../http/routes/resources/params.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/**
 * Every "METHOD /path" the app registers, in the document's form ("/api/v1/keys/{id}"), walked as the security matrix
 * walks it.
 */
export function registeredRoutes(app: unknown): string[] {
  const registered = new Set<string>()
  const walk = (
    stack: { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }[],
  ) => {
    for (const layer of stack) {
      if (layer.route)
        for (const m of Object.keys(layer.route.methods))
          registered.add(`${m.toUpperCase()} ${openApiPath(layer.route.path)}`)
      else if (layer.handle?.stack) walk(layer.handle.stack as never)
    }
  }
  walk((app as { router: { stack: never[] } }).router.stack)
  return [...registered].sort()
}

describe('the OpenAPI document', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer('sqlite', { config: { metrics: true } })
  })
  after(async () => {
    await server?.close()
  })

  test('is served at /api/v1/openapi.json without credentials, as OpenAPI 3.1', async () => {
    const res = await fetch(`${server.url}/api/v1/openapi.json`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /application\/json/)
    const document = (await res.json()) as { openapi: string; paths: object }
    assert.equal(document.openapi, '3.1.0')
    assert.deepEqual(document, JSON.parse(JSON.stringify(openApiDocument(server.core))))
  })

  test('has an operation for every route of the app, and none the app does not serve', () => {
    const app = createApp(server.core, { bus: { deliver: () => {} } as never })
    const routes = registeredRoutes(app)
    assert.ok(routes.length > 30, routes.join(', '))
    const document = openApiDocument(server.core)
    const documented = Object.entries(document.paths)
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
      .sort()
    assert.ok(routes.includes('GET /metrics'), 'metrics on the main port are a route too')
    assert.deepEqual(documented, routes)
  })

  test('documents every field a PUT to a resource may change (the fields the value lane looks for)', () => {
    const documented = Object.keys(updateResourceBody.shape)
    assert.deepEqual(
      CHANGE_FIELDS.filter((field) => !documented.includes(field)),
      [],
    )
  })

  test('documents every field the resources routes read by hand (values.x, timestamp(values, …), sequence settings)', () => {
    const read = new Set<string>(SEQUENCE_SETTINGS)
    for (const file of ['resources.ts', 'sequences.ts']) {
      const source = readFileSync(new URL(`../../http/routes/${file}`, import.meta.url), 'utf8')
      for (const [, name] of source.matchAll(/\b(?:values|body)\.([a-z][A-Za-z_]*)\b(?!\()/g))
        if (name !== 'ts' && name !== 'success') read.add(name!)
      for (const [, names] of source.matchAll(/timestamp\(values, ([^)]*)\)/g))
        for (const [, name] of names!.matchAll(/'([^']+)'/g)) read.add(name!)
    }
    const document = openApiDocument(server.core) as unknown as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: { name: string }[]
            requestBody?: { content: Record<string, { schema: { properties: object } }> }
          }
        >
      >
    }
    const documented = new Set<string>()
    for (const [path, methods] of Object.entries(document.paths)) {
      if (!path.startsWith('/api/v1/resources')) continue
      for (const op of Object.values(methods)) {
        for (const p of op.parameters ?? []) documented.add(p.name)
        for (const name of Object.keys(op.requestBody?.content['application/json']?.schema.properties ?? {}))
          documented.add(name)
      }
    }
    assert.ok(read.size > 20, [...read].join(', '))
    assert.deepEqual(
      [...read].filter((name) => !documented.has(name)),
      [],
    )
  })

  test('every operation documents its errors with the error body, and its security', () => {
    const document = openApiDocument(server.core) as unknown as {
      paths: Record<string, Record<string, { responses: Record<string, { $ref?: string }>; security: unknown[] }>>
    }
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        assert.ok(op.responses['200'] && op.responses['500'], `${method} ${path}`)
        for (const [status, response] of Object.entries(op.responses))
          if (status !== '200')
            assert.equal(response.$ref, `#/components/responses/E${status}`, `${method} ${path} ${status}`)
        if (
          path.startsWith('/api/v1/') &&
          !['/api/v1/openapi.json', '/api/v1/pins', '/api/v1/pins/{pin}'].includes(path)
        )
          assert.ok(op.security.length > 0, `${method} ${path} says how to authenticate`)
      }
    }
  })

  test('passes @redocly/cli lint with no error and no warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tendril-openapi-'))
    try {
      const file = join(dir, 'openapi.json')
      writeFileSync(file, JSON.stringify(openApiDocument(server.core), null, 2))
      const config = new URL('../../redocly.yaml', import.meta.url).pathname
      const result = await promisify(execFile)(
        'npx',
        ['--no-install', 'redocly', 'lint', file, '--config', config, '--format', 'json'],
        {
          env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
          maxBuffer: 16 * 1024 * 1024,
        },
      ).catch((err: { stdout: string; stderr: string }) => err)
      const report = JSON.parse(result.stdout) as {
        totals: { errors: number; warnings: number }
        problems: { message: string; ruleId: string }[]
      }
      assert.deepEqual(
        report.problems.map((p) => `${p.ruleId}: ${p.message}`),
        [],
      )
      assert.deepEqual(report.totals, { ...report.totals, errors: 0, warnings: 0 })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
