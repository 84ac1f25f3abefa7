// A controller key just made, shown once: the key with a copy button and the settings to paste into
// a device. The secret lives only in this dialog's props (memory): never in the URL or storage.
import { api } from '../../api.ts'
import { Dialog } from '../../components/Dialog.tsx'
import { CopyButton } from '../../components/CopyButton.tsx'
import { setupSnippets } from './setup-snippets.ts'
import './admin.css'

export interface Revealed {
  controllerPath: string
  key: string
}

/** POST /api/v1/keys for a controller: the new key, in clear text this once. */
export async function createControllerKey(controllerPath: string): Promise<Revealed> {
  const created = await api<{ id: number; secret_key: string }>('/api/v1/keys', {
    method: 'POST',
    body: { controller_path: controllerPath },
  })
  return { controllerPath, key: created.secret_key }
}

export function KeyReveal({ revealed, onClose }: { revealed: Revealed | null; onClose: () => void }) {
  const name = revealed?.controllerPath.split('/').pop() ?? ''
  return (
    <Dialog title={`New key for ${name}`} open={revealed !== null} onClose={onClose}>
      {revealed && (
        <div class="key-reveal">
          <p class="warning" role="note">
            <strong>This key is shown only now.</strong> Copy it, or the settings below, before you close this window:
            it cannot be shown again. If it is lost, make a new key and revoke this one.
          </p>
          <p class="secret-line">
            <code class="secret" data-testid="secret-key" aria-label="The new key">
              {revealed.key}
            </code>
            <CopyButton text={revealed.key} what="the key" />
          </p>
          {setupSnippets(revealed.controllerPath, revealed.key).map((s) => (
            <section key={s.id} class="snippet" aria-labelledby={`snippet-${s.id}`}>
              <h3 id={`snippet-${s.id}`}>{s.title}</h3>
              <pre tabIndex={0} aria-labelledby={`snippet-${s.id}`} data-testid={`snippet-${s.id}`}>
                {s.text}
              </pre>
              <CopyButton text={s.text} what={s.what} />
              <p class="hint">{s.hint}</p>
            </section>
          ))}
          <div class="buttons">
            <button type="button" class="primary" onClick={onClose}>
              Done, I have copied it
            </button>
          </div>
        </div>
      )}
    </Dialog>
  )
}
