// Runs the real `tendril` command as a child process, as a user or script would.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SERVER_NODE_FLAGS } from '../../cli/node-flags.ts'
import { freePort } from '../harness/ports.ts'

export const tendrilBin = fileURLToPath(new URL('../../bin/tendril.js', import.meta.url))

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tendrilBin, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

export async function runJson<T = Record<string, unknown>>(args: string[], env?: NodeJS.ProcessEnv): Promise<T> {
  const result = await runCli([...args, '--json'], env)
  if (result.code !== 0) throw new Error(`tendril ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
  return JSON.parse(result.stdout) as T
}

export interface RunningServer {
  port: number
  /** null with --mqtt-port 0 */
  mqttPort: number | null
  url: string
  child: ChildProcess
  output(): string
  /** sends SIGTERM and resolves with the exit code and how long the shutdown took */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>
}

/**
 * Starts `tendril serve --port 0` (with node's flags as `npm start` has them) and waits for its "listening" log line to
 * learn the port.
 */
export function startServer(args: string[], env: NodeJS.ProcessEnv = {}, bin = tendrilBin): Promise<RunningServer> {
  const child = spawn(
    process.execPath,
    [...SERVER_NODE_FLAGS, bin, 'serve', '--port', '0', '--mqtt-port', '0', '--host', '127.0.0.1', ...args],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`server did not start in time:\n${output}`))
    }, 20_000)
    const onData = (chunk: Buffer) => {
      output += chunk
      const match = /"port":(\d+)[^\n]*"msg":"tendril listening"/.exec(output)
      if (!match) return
      clearTimeout(timer)
      const port = Number(match[1])
      const mqttPort = /"mqttPort":(\d+)/.exec(output)
      resolve({
        port,
        mqttPort: mqttPort ? Number(mqttPort[1]) : null,
        url: `http://127.0.0.1:${port}`,
        child,
        output: () => output,
        async stop(signal = 'SIGTERM') {
          const started = Date.now()
          if (child.exitCode === null) child.kill(signal)
          const code = await exited
          return { code, ms: Date.now() - started }
        },
      })
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code} before listening:\n${output}`))
    })
  })
}

/**
 * startServer with MQTT over TCP on a free port. `tendril serve` cannot be told "any port" for MQTT (0 turns it off),
 * so the port is picked here, and picked again when something else took it before the server bound it.
 */
/** `bin`: another checkout's bin/tendril.js (bench/workers.ts --compare) */
export async function startServerWithMqtt(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  bin = tendrilBin,
): Promise<RunningServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServer([...args, '--mqtt-port', String(await freePort())], env, bin)
    } catch (err) {
      if (attempt === 5 || !/cannot listen for MQTT .* the port is in use/.test(String(err))) throw err
    }
  }
}
