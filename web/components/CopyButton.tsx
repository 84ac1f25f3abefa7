// Copies a text (a new key, a setting to paste) to the clipboard and says whether it worked; the text
// stays in memory only.
import { useSignal } from '@preact/signals'

async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text)
    return
  } catch {
    // no clipboard API (a plain-http address other than localhost): the older way below
  }
  const area = document.createElement('textarea')
  area.value = text
  area.setAttribute('readonly', '')
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
    <span class="copy">
      <button type="button" onClick={() => void copy()} aria-label={`Copy ${what}`}>
        Copy
      </button>
      <span role="status" class="hint">
        {state.value === 'copied' ? 'Copied.' : state.value === 'failed' ? 'Select the text and copy it.' : ''}
      </span>
    </span>
  )
}
