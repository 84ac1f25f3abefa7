// One entry of a folder: a link with its name and what a person wants to know at a glance.
import { useSignal } from '@preact/signals'
import { encodePath, resourceUrl, ResourceType } from '../../api.ts'
import { Icon } from '../../components/Icon.tsx'
import { Sparkline } from '../../components/Sparkline.tsx'
import { bytes, formatValue, localTime, timeAgo } from '../../format.ts'
import type { Entry } from './model.ts'
import { When } from '../../components/When.tsx'

const KIND: Record<number, string> = {
  10: 'Folder',
  11: 'Organization',
  12: 'Controller',
  13: 'Remote folder',
  20: 'File',
  21: 'Sequence',
  22: 'App',
}
const ICON: Record<number, string> = {
  10: 'folder',
  11: 'folder',
  12: 'controller',
  13: 'folder',
  20: 'file',
  21: 'sequence',
}

export function Presence({ entry }: { entry: Entry }) {
  const { connected, at } = entry.presence.value
  return (
    <span class={`status ${connected ? 'online' : 'offline'}`} data-testid="presence">
      <span class="dot" aria-hidden="true" />
      {connected ? 'Online' : at ? `Offline · last seen ${timeAgo(at)}` : 'Offline · never connected'}
    </span>
  )
}

function SequenceValue({ entry, path }: { entry: Entry; path: string }) {
  const { value, timestamp } = entry.value.value
  const settings = entry.item.system_attributes ?? {}
  const units = typeof settings.units === 'string' ? settings.units : ''
  if (settings.data_type === 3)
    return <span class="muted">{timestamp ? `Image, ${timeAgo(timestamp)}` : 'No image yet'}</span>
  return (
    <>
      <span class={settings.data_type === 2 ? 'value text' : 'value'} data-testid="value">
        {formatValue(value, settings)}
        {units && value !== null && <span class="units"> {units}</span>}
      </span>
      {settings.data_type === 1 && <Sparkline path={path} changed={timestamp} />}
      <span class="muted">
        <When at={timestamp} never="No value yet" />
      </span>
    </>
  )
}

/** Only png and jpg files get a thumbnail (core/images), made just after the upload: retried a few times. */
const HAS_THUMBNAIL = /\.(png|jpe?g)$/i

function Thumbnail({ path, revision }: { path: string; revision: string | null }) {
  const tries = useSignal(0)
  if (tries.value > 3) return null
  const retry = () => setTimeout(() => tries.value++, 1500 * (tries.value + 1))
  const src = resourceUrl(
    path,
    `thumbnail=1&t=${encodeURIComponent(revision ?? '')}${tries.value ? `&try=${tries.value}` : ''}`,
  )
  return <img class="thumb" src={src} alt="" loading="lazy" decoding="async" width={120} height={120} onError={retry} />
}

export function Tile({
  entry,
  folderPath,
  selected,
  onSelect,
}: {
  entry: Entry
  folderPath: string
  selected: boolean
  onSelect: (on: boolean) => void
}) {
  const { item } = entry
  const path = `${folderPath}/${item.name}`
  const modified = item.modification_timestamp
  return (
    <li class={`tile type-${item.type}${selected ? ' selected' : ''}`} data-name={item.name}>
      <input
        type="checkbox"
        class="select"
        aria-label={`Select ${item.name}`}
        checked={selected}
        onChange={(e) => onSelect(e.currentTarget.checked)}
      />
      <Icon name={ICON[item.type] ?? 'other'} />
      <a class="name" href={encodePath(path)}>
        {item.name}
      </a>
      <span class="kind">{KIND[item.type] ?? 'Resource'}</span>
      <span class="details">
        {item.type === ResourceType.controller && <Presence entry={entry} />}
        {item.type === ResourceType.sequence && <SequenceValue entry={entry} path={path} />}
        {(item.type === ResourceType.folder || item.type === ResourceType.remote) && (
          <span class="muted folder-note">Folder</span>
        )}
        {item.type === ResourceType.file && (
          <>
            {HAS_THUMBNAIL.test(item.name) && <Thumbnail path={path} revision={modified} />}
            <span>{bytes(item.size)}</span>
            {modified && (
              <span class="muted">
                modified{' '}
                <time dateTime={modified} title={localTime(modified)}>
                  {timeAgo(modified)}
                </time>
              </span>
            )}
          </>
        )}
      </span>
    </li>
  )
}
