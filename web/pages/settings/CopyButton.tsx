// Copies a text (a new key) to the clipboard and says whether it worked; the text stays in memory only.
import { useSignal } from '@preact/signals'

async function copyText(text: string): Promise<void> {
  try {
    return await navigator.clipboard.writeText(text)
  } catch {
    // no clipboard API (plain http on a LAN address): the older way
  }
  const area = document.createElement('textarea')
  area.value = text
  area.style.position = 'fixed'
  area.style.opacity = '0'
  document.body.append(area)
  area.select()
  const copied = document.execCommand('copy')
  area.remove()
  if (!copied) throw new Error('copy refused')
}

export function CopyButton({ text, what }: { text: string; what: string }) {
  const state = useSignal<'' | 'copied' | 'failed'>('')
  const copy = () =>
    copyText(text).then(
      () => (state.value = 'copied'),
      () => (state.value = 'failed'),
    )
  return (
    <>
      <button type="button" onClick={() => void copy()} aria-label={`Copy ${what}`}>
        Copy
      </button>
      <span role="status" class="hint">
        {state.value === 'copied' ? 'Copied.' : state.value === 'failed' ? 'Select the text and copy it.' : ''}
      </span>
    </>
  )
}
