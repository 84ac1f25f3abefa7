// What a file is, by its name: how the page shows it and whether it can be edited as text.
export type FileKind = 'image' | 'markdown' | 'csv' | 'json' | 'text' | 'other'

const IMAGE = /\.(png|jpe?g|gif|webp|bmp|svg|avif)$/i
const TEXT =
  /\.(txt|log|py|js|mjs|ts|tsx|jsx|ya?ml|ini|cfg|conf|toml|xml|html?|css|sh|c|h|cpp|rs|go|java|rb|sql|env|tsv)$/i

export function kindOf(name: string): FileKind {
  if (IMAGE.test(name)) return 'image'
  if (/\.(md|markdown)$/i.test(name)) return 'markdown'
  if (/\.csv$/i.test(name)) return 'csv'
  if (/\.json$/i.test(name)) return 'json'
  if (TEXT.test(name) || !name.includes('.')) return 'text'
  return 'other'
}

export const isTextKind = (kind: FileKind) =>
  kind === 'markdown' || kind === 'csv' || kind === 'json' || kind === 'text'

/** Files up to this size are shown (and editable) in the page; larger ones are downloaded. */
export const INLINE_LIMIT = 2 * 1024 * 1024

/** RFC 4180 rows: quoted fields may hold commas, quotes ("") and line breaks. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"'
        i++
      } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') {
      row.push(field)
      field = ''
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++
      row.push(field)
      rows.push(row)
      row = []
      field = ''
    } else field += c
  }
  if (field !== '' || row.length > 0) {
    row.push(field)
    rows.push(row)
  }
  return rows
}

export interface ColumnStats {
  numbers: number
  min: number | null
  max: number | null
  mean: number | null
}

/** min, max and mean of each column's numeric cells (the header row excluded). */
export function columnStats(rows: string[][]): ColumnStats[] {
  const width = Math.max(0, ...rows.map((r) => r.length))
  const stats = Array.from({ length: width }, () => ({
    numbers: 0,
    min: null as number | null,
    max: null as number | null,
    sum: 0,
  }))
  for (const row of rows.slice(1)) {
    row.forEach((cell, i) => {
      const n = cell.trim() === '' ? NaN : Number(cell)
      if (!Number.isFinite(n)) return
      const s = stats[i]!
      s.numbers++
      s.sum += n
      s.min = s.min === null ? n : Math.min(s.min, n)
      s.max = s.max === null ? n : Math.max(s.max, n)
    })
  }
  return stats.map((s) => ({ numbers: s.numbers, min: s.min, max: s.max, mean: s.numbers ? s.sum / s.numbers : null }))
}
