// A small tmpfs to fill (the disk-full scenario, issue 21): mounted at a fresh directory, filled to the
// last byte by a filler file, unmounted at the end or when the run is interrupted.
import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, statSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Mounts a tmpfs of sizeMb at a fresh directory; throws (never skips) when mounting is not permitted. */
export function mountTmpfs(sizeMb: number): { dir: string; unmount(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-disk-full-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    const why = String((err as { stderr?: Buffer }).stderr ?? err).trim()
    throw new Error(`the disk-full scenario mounts a tmpfs and needs root or CAP_SYS_ADMIN: mount failed: ${why}`, {
      cause: err,
    })
  }
  // interrupted (Ctrl-C, a timeout): detached at once, freed once the server is gone
  const interrupted = () => {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
    process.exit(130)
  }
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted)
  return {
    dir,
    unmount() {
      process.off('SIGINT', interrupted).off('SIGTERM', interrupted)
      execFileSync('umount', [dir], { stdio: 'pipe' })
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Writes a file until the filesystem refuses another byte; returns its size. */
export function fillDisk(path: string): number {
  const fd = openSync(path, 'w')
  let size = 0
  try {
    for (const chunk of [1 << 20, 1 << 16, 1 << 12, 512, 1]) {
      const buffer = Buffer.alloc(chunk, 0x55)
      for (;;) {
        try {
          size += writeSync(fd, buffer)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break
          throw err
        }
      }
    }
  } finally {
    closeSync(fd)
  }
  return size
}

export const freeBytes = (dir: string) => {
  const s = statfsSync(dir)
  return s.bavail * s.bsize
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}
