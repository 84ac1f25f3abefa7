#!/usr/bin/env -S node --max-semi-space-size=64
// The `tendril` command. Tendril is written in TypeScript and runs through tsx's loader, so a
// fresh clone needs no build step. The first line's node flags are cli/node-flags.ts's.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../cli/main.ts')
process.exitCode = await main(process.argv)
