// Pages that show what arrives live read their data again when the live connection comes back after
// a loss: what was announced meanwhile was missed, and a screen left open for days must not go stale.
import { useSignalEffect } from '@preact/signals'
import { useRef } from 'preact/hooks'
import { liveState } from './live.ts'

export function useReloadOnReconnect(reload: () => void): void {
  const lost = useRef(false)
  useSignalEffect(() => {
    const state = liveState.value
    if (state === 'offline') lost.current = true
    if (state === 'live' && lost.current) {
      lost.current = false
      reload()
    }
  })
}
