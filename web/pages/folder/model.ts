// A folder page's data: the listing (one extended request), each entry with signals of its own for
// what changes live (a sequence's value, a controller's presence), so an update redraws one tile.
import { signal, type Signal } from '@preact/signals'
import { ResourceType, type Listed } from '../../api.ts'

export interface Entry {
  item: Listed
  value: Signal<{ value: string | null; timestamp: string | null }>
  presence: Signal<{ connected: boolean; at: string | null }>
}

/** When a controller was last heard of: its last watchdog or connect, whichever is later. */
export function lastSeen(item: Listed): string | null {
  const times = [item.last_watchdog_timestamp, item.last_connect_timestamp].filter((t): t is string => !!t)
  return times.length ? times.reduce((a, b) => (Date.parse(a) > Date.parse(b) ? a : b)) : null
}

export function toEntry(item: Listed): Entry {
  return {
    item,
    value: signal({ value: item.last_value ?? null, timestamp: item.last_value_timestamp ?? null }),
    presence: signal({ connected: !!item.connected, at: lastSeen(item) }),
  }
}

export type SortKey = 'name' | 'type' | 'date'
export type ViewMode = 'tiles' | 'list'

const TYPE_ORDER: Record<number, number> = {
  [ResourceType.folder]: 0,
  [ResourceType.remote]: 0,
  [ResourceType.controller]: 1,
  [ResourceType.sequence]: 2,
  [ResourceType.file]: 3,
  [ResourceType.app]: 4,
}
const byName = (a: Entry, b: Entry) => a.item.name.localeCompare(b.item.name, undefined, { numeric: true })
const modified = (e: Entry) => Date.parse(e.value.value.timestamp ?? e.item.modification_timestamp ?? '') || 0

export function sortEntries(entries: Entry[], key: SortKey): Entry[] {
  const sorted = [...entries]
  if (key === 'name') sorted.sort(byName)
  if (key === 'type')
    sorted.sort((a, b) => (TYPE_ORDER[a.item.type] ?? 9) - (TYPE_ORDER[b.item.type] ?? 9) || byName(a, b))
  if (key === 'date') sorted.sort((a, b) => modified(b) - modified(a) || byName(a, b))
  return sorted
}

const VIEW_KEY = 'tendril.folder-view'

/** The view a person chose last (tiles or list, and the order), kept in this browser: no secrets here. */
export function savedView(): { mode: ViewMode; sort: SortKey } {
  try {
    const saved = JSON.parse(localStorage.getItem(VIEW_KEY) ?? '{}') as { mode?: string; sort?: string }
    return {
      mode: saved.mode === 'list' ? 'list' : 'tiles',
      sort: saved.sort === 'type' || saved.sort === 'date' ? saved.sort : 'name',
    }
  } catch {
    return { mode: 'tiles', sort: 'name' }
  }
}

export function saveView(view: { mode: ViewMode; sort: SortKey }): void {
  try {
    localStorage.setItem(VIEW_KEY, JSON.stringify(view))
  } catch {
    // private browsing without storage: the choice lasts for this page only
  }
}

/**
 * Applies a message on the folder's topic: "d,<name>,<timestamp>,<value>" lines announce stored values;
 * {"type":"presence","parameters":{"controller":name,"connected":…}} says a controller connected or went
 * away; a controller's watchdog (on its own topic) shows it alive.
 */
export function applyLive(entries: Map<string, Entry>, payload: string): void {
  if (payload.startsWith('{')) {
    const presence = presenceOf(payload)
    const entry = presence && entries.get(presence.controller)
    if (entry) entry.presence.value = { connected: presence.connected, at: presence.timestamp }
    return
  }
  for (const line of payload.split('\n')) {
    if (!line.startsWith('d,')) continue
    const [, name, timestamp, ...rest] = line.split(',')
    const entry = entries.get(name ?? '')
    if (entry) entry.value.value = { value: rest.join(','), timestamp: timestamp ?? null }
  }
}

export function presenceOf(payload: string): { controller: string; connected: boolean; timestamp: string } | null {
  try {
    const message = JSON.parse(payload) as {
      type?: string
      parameters?: { controller?: unknown; connected?: unknown; timestamp?: unknown }
    }
    const p = message.parameters
    if (message.type !== 'presence' || typeof p?.controller !== 'string' || typeof p.connected !== 'boolean')
      return null
    return {
      controller: p.controller,
      connected: p.connected,
      timestamp: typeof p.timestamp === 'string' ? p.timestamp : new Date().toISOString(),
    }
  } catch {
    return null // not JSON after all: a message for the folder, not about a controller
  }
}
