// A path that names nothing this person may see (another organization's folders look the same).
import { useEffect } from 'preact/hooks'

export function NotFound({ what }: { what?: string }) {
  useEffect(() => void (document.title = 'Not found · Tendril'), [])
  return (
    <section class="not-found">
      <h1>Not found</h1>
      <p>{what ?? 'There is nothing here, or you may not see it.'}</p>
      <p>
        <a href="/">Back to your organizations</a>
      </p>
    </section>
  )
}
