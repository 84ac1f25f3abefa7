// Generates the Prisma clients for both supported databases from the one schema.
// prisma/schema.prisma is written for SQLite; the PostgreSQL variant differs only in its
// provider and output folder. PRISMA_SCHEMA_ENGINE_BINARY=/bin/false stops the CLI from
// downloading a native engine it does not need for `generate` (see shared/PRISMA-OFFLINE.md).
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { postgresSchemaText } from './postgres-schema.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const source = join(root, 'prisma', 'schema.prisma')
const pgSchema = join(root, 'generated', 'postgresql.prisma')

mkdirSync(dirname(pgSchema), { recursive: true })
writeFileSync(pgSchema, postgresSchemaText(readFileSync(source, 'utf8')))

const prismaCli = join(root, 'node_modules', 'prisma', 'build', 'index.js')
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: '/bin/false',
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
  CHECKPOINT_DISABLE: '1',
}
for (const schema of [source, pgSchema]) {
  execFileSync(process.execPath, [prismaCli, 'generate', '--schema', schema], {
    cwd: root,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  })
}
console.log('tendril: generated Prisma clients for sqlite and postgresql')
