// The permission rule of shared/DESIGN.md, one behaviour per test.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { effectiveLevel, parsePermissions, type Principal } from '../../core/resources/permissions.ts'
import { AccessLevel as L, PermissionType as P } from '../../core/resources/types.ts'

const ORG = 1
const OTHER_ORG = 2
const member: Principal = { kind: 'user', userId: 7, systemAdmin: false, organizationIds: [ORG] }
const outsider: Principal = { kind: 'user', userId: 8, systemAdmin: false, organizationIds: [OTHER_ORG] }
const admin: Principal = { kind: 'user', userId: 9, systemAdmin: true, organizationIds: [] }
const controller: Principal = { kind: 'controller', controllerId: 42, organizationId: ORG, keyId: 1 }
const foreignController: Principal = { kind: 'controller', controllerId: 43, organizationId: OTHER_ORG, keyId: 2 }
const anonymous: Principal = { kind: 'anonymous' }

const orgDefaults = [
  [P.orgUsers, ORG, L.write],
  [P.orgControllers, ORG, L.write],
]
const link = (permissions: unknown) => ({ organizationId: ORG, permissions })

describe('permission resolution', () => {
  test('organization members and controllers write by default; others get nothing', () => {
    const chain = [link(null), link(null), link(orgDefaults)]
    assert.equal(effectiveLevel(member, chain), L.write)
    assert.equal(effectiveLevel(controller, chain), L.write)
    assert.equal(effectiveLevel(outsider, chain), L.none)
    assert.equal(effectiveLevel(foreignController, chain), L.none)
    assert.equal(effectiveLevel(anonymous, chain), L.none)
  })

  test('the nearest resource with a list decides, even when it grants less than an ancestor', () => {
    const chain = [link([[P.orgUsers, ORG, L.read]]), link(orgDefaults)]
    assert.equal(effectiveLevel(member, chain), L.read)
    assert.equal(effectiveLevel(controller, chain), L.none)
  })

  test('an empty list on a folder shuts out everyone but system admins', () => {
    const chain = [link([]), link(orgDefaults)]
    assert.equal(effectiveLevel(member, chain), L.none)
    assert.equal(effectiveLevel(admin, chain), L.write)
  })

  test('the level is the maximum over all matching entries', () => {
    const chain = [
      link([
        [P.public, null, L.read],
        [P.user, 7, L.write],
        [P.orgUsers, ORG, L.none],
      ]),
    ]
    assert.equal(effectiveLevel(member, chain), L.write)
    assert.equal(effectiveLevel(outsider, chain), L.read)
  })

  test('public entries let anyone read, including anonymous visitors', () => {
    const chain = [link([[P.public, null, L.read]])]
    assert.equal(effectiveLevel(anonymous, chain), L.read)
    assert.equal(effectiveLevel(foreignController, chain), L.read)
  })

  test('user and controller entries match only that user or controller', () => {
    const chain = [
      link([
        [P.user, 8, L.write],
        [P.controller, 43, L.read],
      ]),
    ]
    assert.equal(effectiveLevel(outsider, chain), L.write)
    assert.equal(effectiveLevel(member, chain), L.none)
    assert.equal(effectiveLevel(foreignController, chain), L.read)
    assert.equal(effectiveLevel(controller, chain), L.none)
  })

  test('system admins always write', () => {
    assert.equal(effectiveLevel(admin, [link(null)]), L.write)
    assert.equal(effectiveLevel(admin, [link([[P.user, 1, L.none]])]), L.write)
  })

  test('a key scoped to one organization grants nothing in another, even to a system admin', () => {
    const scopedAdmin: Principal = { ...admin, scopeOrganizationId: OTHER_ORG } as Principal
    assert.equal(effectiveLevel(scopedAdmin, [link(orgDefaults)]), L.none)
    const scopedMember: Principal = { ...member, scopeOrganizationId: ORG } as Principal
    assert.equal(effectiveLevel(scopedMember, [link(orgDefaults)]), L.write)
  })

  test('no list anywhere up the chain means no access', () => {
    assert.equal(effectiveLevel(member, [link(null), link(null)]), L.none)
    assert.equal(effectiveLevel(member, []), L.none)
  })

  test('a malformed stored list grants nothing rather than throwing', () => {
    assert.equal(effectiveLevel(member, [link([['x', ORG, 20]])]), L.none)
    assert.equal(effectiveLevel(member, [link([[P.orgUsers, ORG, 99]])]), L.none)
  })

  test('permission lists are validated before they are stored', () => {
    assert.deepEqual(parsePermissions([[110, 3, 10]]), [[110, 3, 10]])
    assert.equal(parsePermissions(null), null)
    assert.throws(() => parsePermissions([[110, 3, 15]]))
    assert.throws(() => parsePermissions([[999, 3, 10]]))
    assert.throws(() => parsePermissions('everyone'))
  })
})
