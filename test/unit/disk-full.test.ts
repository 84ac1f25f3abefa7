// A full disk as each layer reports it (core/disk-full.ts); the shapes are those seen in
// bench/faults/disk-full.ts, on a full tmpfs.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { isDiskFull } from '../../core/disk-full.ts'
import { diskFull, notFound } from '../../core/errors.ts'

const adapterCause = { originalCode: 'SQLITE_FULL', originalMessage: 'database or disk is full', kind: 'sqlite' }

test('better-sqlite3, Prisma outside and inside a transaction, PostgreSQL and fs errors of a full disk are known', () => {
  assert.ok(isDiskFull(new Database.SqliteError('database or disk is full', 'SQLITE_FULL')))
  // PrismaClientKnownRequestError P2010/P2039: a statement on its own
  assert.ok(isDiskFull({ code: 'P2010', meta: { driverAdapterError: { cause: adapterCause } } }))
  // DriverAdapterError: a commit inside an interactive transaction
  assert.ok(isDiskFull(Object.assign(new Error('database or disk is full'), { cause: adapterCause })))
  assert.ok(isDiskFull({ code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'postgres', code: '53100' } } } }))
  assert.ok(isDiskFull(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })))
  assert.ok(isDiskFull(new Error('wrapped', { cause: Object.assign(new Error('x'), { code: 'EDQUOT' }) })))
  assert.ok(isDiskFull(diskFull()))
})

test('other errors are not a full disk', () => {
  assert.ok(!isDiskFull(new Database.SqliteError('database is locked', 'SQLITE_BUSY')))
  assert.ok(
    !isDiskFull({ code: 'P2002', meta: { driverAdapterError: { cause: { originalCode: 'SQLITE_CONSTRAINT' } } } }),
  )
  assert.ok(!isDiskFull(notFound()))
  assert.ok(!isDiskFull(undefined))
  assert.ok(!isDiskFull('ENOSPC'))
})
