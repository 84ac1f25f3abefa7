// Markdown rendered by marked and sanitised by DOMPurify before it touches the page (a <script>
// or an onerror= in a file never runs); both load as a chunk of their own when a .md is opened.
import { useSignal } from '@preact/signals'
import { useEffect } from 'preact/hooks'

export function Markdown({ text }: { text: string }) {
  const html = useSignal<string | null>(null)
  useEffect(() => {
    let current = true
    void Promise.all([import('marked'), import('dompurify')]).then(([{ marked }, purify]) => {
      const raw = marked.parse(text, { async: false }) as string
      if (current) html.value = purify.default.sanitize(raw)
    })
    return () => void (current = false)
  }, [text])
  if (html.value === null) return <p aria-busy="true">Rendering…</p>
  return <div class="markdown" data-testid="markdown" dangerouslySetInnerHTML={{ __html: html.value }} />
}
