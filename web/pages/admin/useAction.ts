// One change at a time on an admin page: busy while it runs, the API's message when it fails.
import { useSignal } from '@preact/signals'

export function useAction(afterwards: () => unknown) {
  const busy = useSignal(false)
  const error = useSignal('')
  const run = async (work: () => Promise<unknown>): Promise<boolean> => {
    busy.value = true
    error.value = ''
    try {
      await work()
      await afterwards()
      return true
    } catch (err) {
      error.value = (err as Error).message
      return false
    } finally {
      busy.value = false
    }
  }
  return { busy, error, run }
}
