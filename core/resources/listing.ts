// A folder's contents for GET /api/v1/resources/<folder> (rhizo-server resource_list): live children
// sorted by name, optionally the whole subtree, of one type, or matching a name filter. Children that
// carry their own permission list are shown only to callers that may read them, and so is all below them.
import type { DbClient, Resource } from '../db/index.ts'
import { invalid } from '../errors.ts'
import { canRead, effectiveLevel, type Principal } from './permissions.ts'
import { describeListed, type ResourceSummary } from './resource-json.ts'
import { isFolderType } from './types.ts'

/** Beyond this a listing is refused rather than built: narrow it with type or filter. */
export const MAX_LISTING = 10_000

export interface ListOptions {
  recursive?: boolean
  type?: number
  /**
   * rhizo's name filter: "*" (or SQL's "%") matches any run of characters, "_" any one; case-insensitive like SQL LIKE
   */
  filter?: string
  extended?: boolean
}

export async function listFolder(
  db: DbClient,
  principal: Principal,
  folder: Resource,
  folderPath: string,
  options: ListOptions = {},
) {
  const matches = options.filter ? nameMatcher(options.filter) : () => true
  const byParent = await loadSubtree(db, principal, folder, options.recursive ?? false)
  const listed: (ResourceSummary & Record<string, unknown>)[] = []
  const shown: Resource[] = []
  const visit = (parentId: number, parentPath: string) => {
    const children = byParent.get(parentId) ?? []
    for (const child of children) {
      if ((options.type === undefined || child.type === options.type) && matches(child.name)) {
        const item: ResourceSummary & Record<string, unknown> = { id: child.id, name: child.name, type: child.type }
        // rhizo named the path twice in recursive listings: path, and fullPath (marked for removal there, still read by
        // old clients)
        if (options.recursive) item.path = item.fullPath = `${parentPath}/${child.name}`
        listed.push(item)
        shown.push(child)
        if (listed.length > MAX_LISTING)
          throw invalid(`the listing has more than ${MAX_LISTING} entries; narrow it with type or filter`)
      }
    }
    if (!options.recursive) return
    for (const child of children) if (isFolderType(child.type)) visit(child.id, `${parentPath}/${child.name}`)
  }
  visit(folder.id, folderPath)
  if (options.extended) await describeListed(db, shown, listed)
  return listed
}

/** Readable live descendants by parent id, each list sorted by name; one query per level. */
async function loadSubtree(db: DbClient, principal: Principal, folder: Resource, recursive: boolean) {
  const byParent = new Map<number, Resource[]>()
  let level: number[] = [folder.id]
  let seen = 0
  while (level.length > 0) {
    const rows = await db.resource.findMany({
      where: { parentId: { in: level }, deleted: false },
      orderBy: [{ name: 'asc' }, { id: 'asc' }],
    })
    seen += rows.length
    if (seen > MAX_LISTING * 10)
      throw invalid(`the folder holds too many resources to list recursively; narrow the listing to a sub-folder`)
    const next: number[] = []
    for (const row of rows) {
      // a child without a list inherits what the caller has on the folder (readable, or it would not be listed)
      if (Array.isArray(row.permissions) && !canRead(effectiveLevel(principal, [row]))) continue
      const list = byParent.get(row.parentId!) ?? byParent.set(row.parentId!, []).get(row.parentId!)!
      list.push(row)
      if (recursive && isFolderType(row.type)) next.push(row.id)
    }
    level = next
  }
  return byParent
}

/**
 * rhizo's LIKE-style filter without a regular expression: a pattern of many "*" would make a
 * backtracking regex take exponential time on a long name. Greedy wildcard matching with one
 * backtrack point is O(name × pattern) at worst.
 */
export function nameMatcher(filter: string): (name: string) => boolean {
  if (filter.length > 200) throw invalid('a filter must be at most 200 characters')
  const pattern = [...filter.toLowerCase()].map((c) => (c === '%' ? '*' : c))
  return (rawName) => {
    const name = [...rawName.toLowerCase()]
    let p = 0
    let n = 0
    let star = -1 // pattern index just after the last "*"
    let resume = 0 // where in name that "*" would take one more character from
    while (n < name.length) {
      if (p < pattern.length && pattern[p] !== '*' && (pattern[p] === '_' || pattern[p] === name[n])) {
        p++
        n++
      } else if (p < pattern.length && pattern[p] === '*') {
        star = ++p
        resume = n
      } else if (star !== -1) {
        p = star
        n = ++resume
      } else return false
    }
    while (pattern[p] === '*') p++
    return p === pattern.length
  }
}
