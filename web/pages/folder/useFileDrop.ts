// Files dropped anywhere on the page are handed over (not just on a drop zone), with a flag for the overlay.
import { useSignal, type Signal } from '@preact/signals'
import { useEffect } from 'preact/hooks'

const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files')

/** Whether files are being dragged over the page; dropped ones go to onFiles. Rebound when key changes. */
export function useFileDrop(key: string, onFiles: (files: FileList) => void): Signal<boolean> {
  const dragging = useSignal(false)
  useEffect(() => {
    const over = (e: DragEvent) => {
      if (!hasFiles(e)) return
      e.preventDefault()
      dragging.value = true
    }
    // relatedTarget is null only when the drag leaves the window, not when it crosses an element
    const leave = (e: DragEvent) => {
      if (e.relatedTarget === null) dragging.value = false
    }
    const drop = (e: DragEvent) => {
      if (!hasFiles(e)) return
      e.preventDefault()
      dragging.value = false
      if (e.dataTransfer?.files.length) onFiles(e.dataTransfer.files)
    }
    document.addEventListener('dragover', over)
    document.addEventListener('dragleave', leave)
    document.addEventListener('drop', drop)
    return () => {
      document.removeEventListener('dragover', over)
      document.removeEventListener('dragleave', leave)
      document.removeEventListener('drop', drop)
    }
  }, [key])
  return dragging
}
