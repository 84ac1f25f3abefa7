// An image sequence: a filmstrip of its 240 px thumbnails (the "thumbnail-240-x" child), the full
// image of the chosen revision, new images shown as they arrive, Left/Right to step.
import { useSignal, type Signal } from '@preact/signals'
import type { RefObject } from 'preact'
import { useEffect, useRef } from 'preact/hooks'
import { api, resourceUrl, type Described } from '../../api.ts'
import { follow } from '../../live.ts'
import { formatTime } from './range.ts'
import { useReloadOnReconnect } from '../../reconnect.ts'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

interface Revision {
  id: number
  timestamp: string
  size: number
}

const COUNT = 60

/**
 * An image value's announcement (`{"type":"sequence_update","parameters":{id, revision_id, …}}`) for this sequence,
 * else null.
 */
function imageUpdateOf(payload: string, sequenceId: number): Revision | null {
  if (!payload.startsWith('{')) return null
  try {
    const { type, parameters: p } = JSON.parse(payload) as { type?: string; parameters?: Record<string, unknown> }
    if (
      type !== 'sequence_update' ||
      p?.id !== sequenceId ||
      typeof p.revision_id !== 'number' ||
      typeof p.timestamp !== 'string'
    )
      return null
    return { id: p.revision_id, timestamp: p.timestamp, size: Number(p.size ?? 0) }
  } catch {
    return null
  }
}

/** the latest COUNT images and their thumbnails, new ones joining live; chosen follows the latest unless moved */
function useImages(path: string, sequenceId: number) {
  const revisions = useSignal<Revision[] | undefined>(undefined)
  const thumbs = useSignal<Map<string, number>>(new Map())
  const chosen = useSignal<number | null>(null)
  const error = useSignal('')
  const reload = useSignal(0)

  useEffect(() => {
    const list = api<Revision[]>(resourceUrl(path, `revisions=1&count=${COUNT}`))
    const thumbList = api<Revision[]>(resourceUrl(`${path}/thumbnail-240-x`, `revisions=1&count=${COUNT + 10}`)).catch(
      () => [] as Revision[],
    )
    Promise.all([list, thumbList])
      .then(([r, t]) => {
        const wasLatest = chosen.value === null || chosen.value === revisions.value?.at(-1)?.id
        revisions.value = r
        thumbs.value = new Map(t.map((x) => [x.timestamp, x.id]))
        if (wasLatest) chosen.value = r.at(-1)?.id ?? null
      })
      .catch((err: Error) => (error.value = `Could not list the images: ${err.message}`))
  }, [path, reload.value])

  // a stored image is announced on the folder topic by its revision, not its bytes (docs/mqtt.md):
  // it joins the strip at once; its thumbnail, made just after, is read with the list next time
  useEffect(() => {
    const folder = path.slice(1, path.lastIndexOf('/'))
    return follow([folder], (_t, payload) => {
      const update = imageUpdateOf(payload, sequenceId)
      if (!update || revisions.value?.some((r) => r.id === update.id)) return
      const wasLatest = chosen.value === null || chosen.value === revisions.value?.at(-1)?.id
      revisions.value = [...(revisions.value ?? []), update].slice(-COUNT)
      if (wasLatest) chosen.value = update.id
    })
  }, [path])
  useReloadOnReconnect(() => reload.value++)
  return { revisions, thumbs, chosen, error }
}

export function Images({ path, meta }: { path: string; meta: Described }) {
  const { revisions, thumbs, chosen, error } = useImages(path, meta.id)
  const strip = useRef<HTMLOListElement>(null)
  const list = revisions.value ?? []
  const index = list.findIndex((r) => r.id === chosen.value)
  const step = (by: number) => {
    const next = list[Math.max(0, Math.min(list.length - 1, index + by))]
    if (next) chosen.value = next.id
    strip.current?.querySelector<HTMLElement>(`[data-id="${next?.id}"]`)?.focus()
  }
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'ArrowLeft') step(-1)
    else if (e.key === 'ArrowRight') step(1)
    else return
    e.preventDefault()
  }
  const current = index >= 0 ? list[index]! : null
  return (
    <section class="card images" aria-label="Images" onKeyDown={onKey}>
      <ErrorAlert message={error.value} />
      {revisions.value?.length === 0 && <p class="empty-range">No images yet.</p>}
      {current && (
        <figure class="full-image">
          <img
            src={resourceUrl(path, `rev=${current.id}`)}
            alt={`${meta.name} at ${formatTime(Date.parse(current.timestamp), false)}`}
            data-testid="full-image"
            data-revision={current.id}
          />
          <figcaption>
            Image {index + 1} of {list.length},{' '}
            <time dateTime={current.timestamp}>{formatTime(Date.parse(current.timestamp), false)}</time> ·{' '}
            <a href={resourceUrl(path, `rev=${current.id}`)} download={`${meta.name}-${current.id}.jpg`}>
              Download
            </a>
          </figcaption>
        </figure>
      )}
      {list.length > 0 && (
        <>
          <p class="muted small">Left and right arrow keys step through the images.</p>
          <Filmstrip path={path} list={list} thumbs={thumbs.value} chosen={chosen} strip={strip} />
        </>
      )}
    </section>
  )
}

interface FilmstripProps {
  path: string
  list: Revision[]
  /** thumbnail revision by the image's timestamp */
  thumbs: Map<string, number>
  chosen: Signal<number | null>
  strip: RefObject<HTMLOListElement | null>
}

function Filmstrip({ path, list, thumbs, chosen, strip }: FilmstripProps) {
  return (
    <ol class="filmstrip" ref={strip} aria-label="Filmstrip">
      {list.map((r) => {
        const thumb = thumbs.get(r.timestamp)
        return (
          <li key={r.id}>
            <button
              type="button"
              data-id={r.id}
              aria-pressed={r.id === chosen.value}
              onClick={() => (chosen.value = r.id)}
              aria-label={`Image at ${formatTime(Date.parse(r.timestamp), false)}`}
            >
              <img
                src={thumb ? resourceUrl(`${path}/thumbnail-240-x`, `rev=${thumb}`) : resourceUrl(path, `rev=${r.id}`)}
                alt=""
                loading="lazy"
              />
            </button>
          </li>
        )
      })}
    </ol>
  )
}
