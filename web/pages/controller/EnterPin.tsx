// A new device's PIN, typed by the person who sees it on the device's screen: PUT /api/v1/pins/<pin>
// gives this controller to that device, which receives its key on its next poll (core/accounts/pins.ts).
import { useSignal } from '@preact/signals'
import { useRef } from 'preact/hooks'
import { ApiError, api } from '../../api.ts'

/** What each refusal of http/routes/pins.ts means for the person at the device. */
function whyRefused(err: unknown): string {
  if (!(err instanceof ApiError)) return 'The server did not answer. Check your connection and try again.'
  switch (err.status) {
    case 404:
      return 'No device is waiting with that PIN. Check the number on the device’s screen and try again.'
    case 409:
      return 'That PIN has already been entered. The device gets its key on its next check; if it shows a new PIN, enter that one.'
    case 410:
      return 'That PIN has expired (a PIN lasts 30 minutes). Restart the device to get a new one.'
    case 429:
      return 'Too many wrong PINs. Wait 15 minutes, then try again.'
    default:
      return err.message
  }
}

export function EnterPin({ path }: { path: string }) {
  const message = useSignal<{ ok: boolean; text: string } | null>(null)
  const busy = useSignal(false)
  const input = useRef<HTMLInputElement>(null)
  const submit = async (event: Event) => {
    event.preventDefault()
    const pin = (input.current?.value ?? '').replace(/\s+/g, '')
    busy.value = true
    message.value = null
    try {
      await api(`/api/v1/pins/${encodeURIComponent(pin)}`, { method: 'PUT', body: { controller: path } })
      message.value = {
        ok: true,
        text: `PIN ${pin} accepted: the device receives its key for ${path.split('/').pop()} on its next check, within a few seconds.`,
      }
      if (input.current) input.current.value = ''
    } catch (err) {
      message.value = { ok: false, text: whyRefused(err) }
      input.current?.focus()
    } finally {
      busy.value = false
    }
  }
  return (
    <section class="card enter-pin" aria-labelledby="enter-pin-title">
      <h2 id="enter-pin-title">Connect a device by PIN</h2>
      <p class="hint">
        A device without a key shows a 6-digit PIN. Type it here to give the device this controller and a key of its
        own.
      </p>
      <form onSubmit={submit}>
        <label for="device-pin">PIN shown by the device</label>
        <div class="inline-form">
          <input
            ref={input}
            id="device-pin"
            name="pin"
            inputMode="numeric"
            autoComplete="off"
            pattern="\s*[0-9]{3}\s*[0-9]{3}\s*"
            maxLength={9}
            required
            aria-describedby={message.value ? 'enter-pin-result' : undefined}
          />
          <button type="submit" class="primary" disabled={busy.value}>
            Enter PIN
          </button>
        </div>
      </form>
      {message.value && (
        <p id="enter-pin-result" class={message.value.ok ? 'ok' : 'error'} role={message.value.ok ? 'status' : 'alert'}>
          {message.value.text}
        </p>
      )}
    </section>
  )
}
