// Backup commands: `backup FILE`, `restore FILE`, `check`. They open the database beside a running
// server like the admin commands do; stdout holds the result, problems go to stderr.
import type { Command } from 'commander'
import { backup, BlobProblemsError } from '../core/backup/backup.ts'
import { checkStore, type BlobProblem } from '../core/backup/check.ts'
import { restore } from '../core/backup/restore.ts'
import { TendrilError } from '../core/errors.ts'
import { configFor, withStorageOptions } from './options.ts'

const listProblems = (problems: BlobProblem[]) =>
  problems.map((p) => `${p.problem}: ${p.hash} (${p.detail})\n`).join('')

function print(cmd: Command, result: object, human: string) {
  process.stdout.write((cmd.opts().json ? JSON.stringify(result) : human) + '\n')
}

function backupCommand(program: Command, spec: string, description: string): Command {
  return withStorageOptions(program.command(spec).description(description)).option('--json', 'print one JSON object')
}

export function registerBackupCommands(program: Command) {
  backupCommand(
    program,
    'backup <file>',
    'write a consistent backup of the database and its blobs (.tar.gz) while the server runs',
  )
    .option('--pg-bin <dir>', 'directory of pg_dump (default: PATH)')
    .action(async (file: string, opts: { pgBin?: string }, cmd: Command) => {
      try {
        const result = await backup(configFor(cmd), file, { pgBin: opts.pgBin })
        const blobs = result.blobsIncluded
          ? `${result.blobs} blobs`
          : 'no blobs (the S3 bucket is backed up by its own means)'
        print(cmd, result, `wrote ${file}: ${result.database} database and ${blobs}, ${result.bytes} bytes`)
      } catch (err) {
        if (err instanceof BlobProblemsError)
          process.stderr.write(listProblems(err.problems) + 'run `tendril check` after repairing them\n')
        throw err
      }
    })

  backupCommand(
    program,
    'restore <file>',
    'restore a backup into an empty data dir (and, on PostgreSQL, an empty database)',
  )
    .option('--pg-bin <dir>', 'directory of pg_restore (default: PATH)')
    .action(async (file: string, opts: { pgBin?: string }, cmd: Command) => {
      const result = await restore(configFor(cmd), file, { pgBin: opts.pgBin })
      print(cmd, result, `restored the ${result.database} backup of ${result.created} with ${result.blobs} blobs`)
    })

  backupCommand(program, 'check', 'verify that every blob the database refers to exists and matches its hash').action(
    async (_o, cmd: Command) => {
      const result = await checkStore(configFor(cmd))
      print(
        cmd,
        result,
        listProblems(result.problems) +
          `checked ${result.checked} blobs: ${result.problems.length ? `${result.problems.length} problem(s)` : 'all present and intact'}`,
      )
      if (result.problems.length)
        throw new TendrilError(
          'conflict',
          `${result.problems.length} of ${result.checked} referenced blobs are missing or corrupt`,
        )
    },
  )
}
