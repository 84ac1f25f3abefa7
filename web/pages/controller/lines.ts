// Stored values as they are announced on a folder topic (core/messages/codecs.ts encodeDisplay).

/** "d,<name>,<timestamp>,<value>" lines of a folder topic; a line not starting a record continues the value before. */
export function displayLines(payload: string): { name: string; timestamp: string; value: string }[] {
  const out: { name: string; timestamp: string; value: string }[] = []
  for (const line of payload.split('\n')) {
    if (line.startsWith('d,')) {
      const [, name = '', timestamp = '', ...rest] = line.split(',')
      out.push({ name, timestamp, value: rest.join(',') })
    } else if (out.length > 0 && !line.startsWith('s,')) out[out.length - 1]!.value += `\n${line}`
  }
  return out
}
