import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { checkName, splitPath } from '../../core/resources/paths.ts'

describe('resource names and paths', () => {
  test('ordinary names pass, including spaces, dots and unicode', () => {
    for (const name of ['pi-1', 'Greenhouse A', 'temp.c', 'théâtre', 'x'.repeat(100)])
      assert.equal(checkName(name), name)
  })

  test('names that would make paths or MQTT topics ambiguous are refused with a reason', () => {
    const bad: [string, RegExp][] = [
      ['', /empty/],
      ['a/b', /"\/"/],
      ['..', /"\."/],
      ['.', /"\."/],
      ['x'.repeat(101), /at most 100/],
      ['tab\there', /control/],
      ['nul\u0000', /control/],
      ['sensor+1', /wildcard/],
      ['#all', /wildcard/],
      ['$SYS', /reserved/],
      [' padded', /white space/],
      ['..\\..\\evil.sh', /"\\" or ":"/],
      ['C:evil', /"\\" or ":"/],
    ]
    for (const [name, reason] of bad) assert.throws(() => checkName(name), reason, JSON.stringify(name))
  })

  test('a path may still name what was made before "\\" and ":" were refused, so it can be read, renamed or deleted', () => {
    assert.deepEqual(splitPath('/acme/old\\name/12:00'), ['acme', 'old\\name', '12:00'])
  })

  test('paths split with or without leading and trailing slashes', () => {
    assert.deepEqual(splitPath('/acme/greenhouse/pi-1'), ['acme', 'greenhouse', 'pi-1'])
    assert.deepEqual(splitPath('acme/greenhouse/'), ['acme', 'greenhouse'])
  })

  test('empty segments and traversal are refused', () => {
    assert.throws(() => splitPath('/acme//pi'), /empty/)
    assert.throws(() => splitPath('/acme/../other'), /"\."/)
    assert.throws(() => splitPath('/'), /at least/)
  })
})
