#!/usr/bin/env node
// The `tendril` command. Tendril is written in TypeScript and runs through tsx's loader, so a
// fresh clone needs no build step.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../cli/main.ts')
process.exitCode = await main(process.argv)
