// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by file, top N.
//   node --import tsx bench/lib/cpuprofile.ts FILE.cpuprofile [N]
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const [file, topArg] = process.argv.slice(2)
if (!file) throw new Error('usage: cpuprofile.ts FILE.cpuprofile [N]')
const top = Number(topArg ?? 25)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const selfUs = new Map<number, number>()
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
const total = [...selfUs.values()].reduce((a, b) => a + b, 0)

const shortUrl = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/.*node_modules\//, 'nm:')
    .replace(/.*\/work\/main\//, '')
const sum = (keyOf: (n: ProfileNode) => string) => {
  const m = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const k = keyOf(byId.get(id)!)
    m.set(k, (m.get(k) ?? 0) + us)
  }
  return [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
}
const show = (title: string, rows: [string, number][]) => {
  console.log(`\n${title} (total ${(total / 1000).toFixed(0)} ms sampled)`)
  for (const [k, us] of rows)
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`)
}
show(
  'self time by function',
  sum(
    (n) => `${n.callFrame.functionName || '(anonymous)'}  ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`,
  ),
)
show(
  'self time by file/package',
  sum((n) => {
    const u = shortUrl(n.callFrame.url)
    return u.startsWith('nm:')
      ? u
          .split('/')
          .slice(0, u.startsWith('nm:@') ? 2 : 1)
          .join('/')
      : u || n.callFrame.functionName
  }),
)
