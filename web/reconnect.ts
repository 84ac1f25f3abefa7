// Pages that show what arrives live read their data again when it may have changed unseen: after the
// live connection comes back from a loss (what was announced meanwhile was missed), and shortly after
// a controller of the organizations shown connects or disconnects (counts and lists of presence).
import { useSignalEffect } from '@preact/signals'
import { useEffect, useRef } from 'preact/hooks'
import { follow, liveState } from './live.ts'

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

/** Presence notices close together (a classroom of Pis switched on) make one reload, this long after the last. */
const PRESENCE_SETTLE_MS = 250

/**
 * Reloads after presence notices on these organizations' topics (the notices go to each controller's parent folder).
 */
export function useReloadOnPresence(organizations: string[], reload: () => void): void {
  const names = [...new Set(organizations)].sort().join('/')
  useEffect(() => {
    if (!names) return
    let timer: ReturnType<typeof setTimeout> | undefined
    const stop = follow(
      names.split('/').map((name) => `${name}/#`),
      (_topic, payload) => {
        if (!payload.startsWith('{"type":"presence"')) return
        clearTimeout(timer)
        timer = setTimeout(reload, PRESENCE_SETTLE_MS)
      },
    )
    return () => {
      clearTimeout(timer)
      stop()
    }
  }, [names])
}
