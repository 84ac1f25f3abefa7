// rhizo's name filter for folder listings (SQL LIKE: "*" or "%" any run, "_" any one character, any case).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { nameMatcher } from '../../core/resources/listing.ts'

describe('listing name filter', () => {
  const matches = (filter: string, name: string) => nameMatcher(filter)(name)

  test('"*" and "%" match any run of characters, "_" exactly one, ignoring case', () => {
    assert.ok(matches('*.txt', 'notes.TXT'))
    assert.ok(matches('%.txt', 'a.txt'))
    assert.ok(matches('*', ''))
    assert.ok(matches('temp_', 'temp1'))
    assert.ok(matches('t*p*e', 'temperature'))
    assert.ok(!matches('temp_', 'temp'))
    assert.ok(!matches('*.txt', 'notes.txt.bak'))
    assert.ok(!matches('a*b', 'ab c'))
  })

  test('other characters are literal, including regex ones', () => {
    assert.ok(matches('a.b(c)[d]+', 'a.b(c)[d]+'))
    assert.ok(!matches('a.b', 'axb'))
  })

  test('a pattern of many stars against a long name that does not match answers at once', () => {
    const started = performance.now()
    assert.ok(!matches('*a'.repeat(99) + 'b', 'a'.repeat(100)))
    assert.ok(performance.now() - started < 500, 'no exponential backtracking')
  })

  test('filters longer than 200 characters are refused', () => {
    assert.throws(() => nameMatcher('x'.repeat(201)), /at most 200/)
  })
})
