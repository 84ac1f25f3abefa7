// Uploads by multipart POST /api/v1/resources with XMLHttpRequest (fetch reports no upload progress).
// The fields come before the file, so the server checks access before it stores a byte.
import { signal, type Signal } from '@preact/signals'
import { session } from '../../api.ts'
import { bytes } from '../../format.ts'

export interface Upload {
  id: number
  name: string
  size: number
  sent: Signal<number>
  state: Signal<'sending' | 'done' | 'failed'>
  message: Signal<string>
}

let nextId = 1

export function uploadFile(folderPath: string, file: File, onDone: () => void): Upload {
  const upload: Upload = {
    id: nextId++,
    name: file.name,
    size: file.size,
    sent: signal(0),
    state: signal('sending'),
    message: signal(''),
  }
  // refused here rather than by a 413 mid-upload, which browsers often never see (they keep sending)
  const limit = session.value?.upload_limit
  if (limit !== undefined && file.size > limit) {
    upload.state.value = 'failed'
    upload.message.value = `Too large: ${file.name} is ${bytes(file.size)}; the limit is ${bytes(limit)}`
    return upload
  }
  const form = new FormData()
  form.append('path', folderPath)
  form.append('name', file.name)
  form.append('type', '20')
  form.append('file', file, file.name)
  const xhr = new XMLHttpRequest()
  xhr.open('POST', '/api/v1/resources')
  xhr.setRequestHeader('accept', 'application/json')
  const csrf = session.value?.csrf_token
  if (csrf) xhr.setRequestHeader('x-csrf-token', csrf)
  xhr.upload.onprogress = (event) => (upload.sent.value = event.loaded)
  xhr.onload = () => {
    if (xhr.status >= 200 && xhr.status < 300) {
      upload.sent.value = file.size
      upload.state.value = 'done'
      upload.message.value = 'Uploaded'
      onDone()
      return
    }
    upload.state.value = 'failed'
    let message = `the server answered ${xhr.status}`
    try {
      message = (JSON.parse(xhr.responseText) as { message?: string }).message ?? message
    } catch {
      // not JSON (a proxy's page)
    }
    upload.message.value = xhr.status === 413 ? `Too large: ${message}` : `Not uploaded: ${message}`
  }
  xhr.onerror = () => {
    upload.state.value = 'failed'
    upload.message.value = 'Not uploaded: the connection was lost. Try again.'
  }
  xhr.send(form)
  return upload
}
