// Small inline icons (no icon font, no emoji: a lab PC may have neither); decorative, hidden from screen readers.
const PATHS: Record<string, string> = {
  folder: 'M3 6a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z',
  controller:
    'M7 4h10a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm2 4v3h6V8zm0 6v2h2v-2zm4 0v2h2v-2z',
  sequence: 'M3 19h18v2H3zM4 15l4-5 4 3 5-7 3 2-7 9-4-3-3 4z',
  file: 'M6 2h8l5 5v13a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V8h4.5z',
  other: 'M12 4a8 8 0 1 1 0 16 8 8 0 0 1 0-16z',
}

export function Icon({ name }: { name: keyof typeof PATHS | string }) {
  return (
    <svg class={`icon icon-${name}`} viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
      <path d={PATHS[name] ?? PATHS.other} fill="currentColor" />
    </svg>
  )
}
