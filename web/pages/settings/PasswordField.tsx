// A new password's field with the server's rule stated before submitting (core/accounts/passwords.ts:
// at least --password-min-length characters, at most 72 bytes as bcrypt reads no further).
import { useId } from 'preact/hooks'
import { session } from '../../api.ts'

export const passwordRule = (min = session.value?.password_min_length ?? 10) =>
  `At least ${min} characters, at most 72 bytes.`

export function PasswordField({
  label,
  name,
  autocomplete = 'new-password',
}: {
  label: string
  name: string
  autocomplete?: string
}) {
  const id = useId()
  const min = session.value?.password_min_length ?? 10
  return (
    <>
      <label for={id}>{label}</label>
      <input
        id={id}
        name={name}
        type="password"
        required
        minLength={min}
        autoComplete={autocomplete}
        aria-describedby={`${id}-rule`}
      />
      <p id={`${id}-rule`} class="hint">
        {passwordRule(min)}
      </p>
    </>
  )
}
