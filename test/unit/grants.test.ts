// Forwarding's synchronous decision (broker/grants.ts): which topics a subscription's grant covers,
// and what it says about each.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { admits, SessionGrants, type ReadGrant } from '../../broker/grants.ts'
import { AccessLevel as L } from '../../core/resources/types.ts'

const grant = (prefix: string, level: number, below: ReadGrant['below'] = [], exact = false): ReadGrant => ({
  prefix,
  exact,
  level,
  below,
})
const holding = (...grants: [string, ReadGrant][]) => {
  const held = new SessionGrants()
  for (const [filter, g] of grants) held.set(filter, g)
  return held
}
const mayForward = (grants: SessionGrants, topic: string) => grants.mayForward(topic)

describe('forwarding from subscription grants', () => {
  test('a wildcard grant covers its prefix and everything below, not a sibling whose name starts the same', () => {
    const grants = holding(['acme/wild/#', grant('acme/wild', L.read)])
    assert.equal(mayForward(grants, 'acme/wild'), true)
    assert.equal(mayForward(grants, 'acme/wild/pi-1/t'), true)
    assert.equal(mayForward(grants, 'acme/wilder'), false)
    assert.equal(mayForward(grants, 'acme'), false)
  })

  test('an exact grant covers its own topic only', () => {
    const grants = holding(['acme/pi-1', grant('acme/pi-1', L.write, [], true)])
    assert.equal(mayForward(grants, 'acme/pi-1'), true)
    assert.equal(mayForward(grants, 'acme/pi-1/raw'), false)
  })

  test('a topic no grant covers is not forwarded', () => {
    assert.equal(mayForward(new SessionGrants(), 'acme/pi-1'), false)
  })

  test('below a closed folder nothing is forwarded, except below a folder opened again inside it', () => {
    const g = grant('acme', L.write, [
      { topic: 'acme/private/shared', level: L.read },
      { topic: 'acme/private', level: L.none },
    ])
    const grants = holding(['acme/#', g])
    assert.equal(mayForward(grants, 'acme/greenhouse/pi-1'), true)
    assert.equal(mayForward(grants, 'acme/private'), false)
    assert.equal(mayForward(grants, 'acme/private/pi-p/log'), false)
    assert.equal(mayForward(grants, 'acme/private/shared/x'), true)
    assert.equal(mayForward(grants, 'acme/privateer'), true)
    assert.equal(admits(g), false, 'such a filter is refused when subscribed anew')
  })

  test('after an unsubscribe its grant covers nothing', () => {
    const grants = holding(
      ['acme/pi-1', grant('acme/pi-1', L.read, [], true)],
      ['acme/wild/#', grant('acme/wild', L.read)],
    )
    grants.delete('acme/pi-1')
    grants.delete('acme/wild/#')
    assert.equal(mayForward(grants, 'acme/pi-1'), false)
    assert.equal(mayForward(grants, 'acme/wild/x'), false)
  })

  test('grants that disagree about a topic (made either side of a change) withhold it', () => {
    const grants = holding(['acme/#', grant('acme', L.read)], ['acme/pi-2', grant('acme/pi-2', L.none, [], true)])
    assert.equal(mayForward(grants, 'acme/pi-2'), false)
    assert.equal(mayForward(grants, 'acme/pi-1'), true)
  })

  test('"#" covers every topic but $ ones; a $SYS grant covers those', () => {
    const grants = holding(['#', grant('', L.write)])
    assert.equal(mayForward(grants, 'beta/anything'), true)
    assert.equal(mayForward(grants, '$SYS/broker/new/clients'), false)
    grants.set('$SYS/#', grant('$SYS', L.write))
    assert.equal(mayForward(grants, '$SYS/broker/new/clients'), true)
  })
})
