// Small numeric and table helpers shared by the benchmarks.
import os from 'node:os'

export function median(values: number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** 12345.6 -> "12,346"; small values keep one decimal. */
export function fmt(value: number, decimals = value < 100 ? 1 : 0): string {
  if (!Number.isFinite(value)) return '-'
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
}

export function ratio(value: number, reference: number): string {
  return Number.isFinite(value) && reference > 0 ? (value / reference).toFixed(2) + '×' : '-'
}

/** Prints rows under headers with padded columns (first column left-aligned, the rest right-aligned). */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  console.log(line(headers))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of rows) console.log(line(row))
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** One line about the machine, for the record: cores, CPU, Node, load average (other processes count too). */
export function machine(): string {
  const cpus = os.cpus()
  const flags = process.execArgv.filter((a) => a.startsWith('--max-'))
  return `${cpus.length} cores (${cpus[0]?.model.trim() ?? '?'}), node ${process.version}${flags.length ? ` ${flags.join(' ')}` : ''}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`
}
