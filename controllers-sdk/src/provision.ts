// PIN provisioning (Node only: it keeps the key in a file), as rhizo-server's main/api/pins.py
// defines the flow: the controller asks for a PIN, prints it, and polls until a user has entered
// the PIN in the web UI (assigning it a controller folder); it then receives its path and key once.
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { ConnectionError, ExpiredError } from './errors.ts'
import { json, request } from './rest.ts'

export interface ControllerConfig {
  server: string
  key: string
  controllerPath: string
  [extra: string]: unknown
}

export interface ProvisionOptions {
  /** HTTP base URL of the server */
  server: string
  /** JSON file holding { server, key, controllerPath }; written with mode 0600 */
  configFile: string
  /** how the PIN is shown (default: printed on stdout) */
  onPin?: (pin: number) => void
  /** ms between polls (default 3000) */
  pollMs?: number
  /** give up after this many ms (default: never) */
  timeoutMs?: number
}

/** The stored configuration when it has a key; otherwise runs the PIN flow and stores its result. */
export async function provision(options: ProvisionOptions): Promise<ControllerConfig> {
  const existing = readConfig(options.configFile)
  if (typeof existing.key === 'string' && existing.key !== '' && typeof existing.controllerPath === 'string') {
    return existing as ControllerConfig
  }
  const base = options.server.replace(/\/+$/, '')
  const show =
    options.onPin ??
    ((pin: number) => console.log(`Enter PIN ${pin} in Tendril (Controllers > Add) to connect this controller.`))
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs
  for (;;) {
    const { pin, pin_code } = await json<{ pin: number; pin_code: string }>(
      await request({ base }, 'POST', `${base}/api/v1/pins`, {}),
    )
    show(pin)
    try {
      const assigned = await pollPin(base, pin, pin_code, options.pollMs ?? 3000, deadline)
      const config: ControllerConfig = {
        ...existing,
        server: options.server,
        key: assigned.secret_key,
        controllerPath: assigned.controller_path,
      }
      writeConfig(options.configFile, config)
      return config
    } catch (err) {
      if (!(err instanceof ExpiredError)) throw err // an expired PIN is replaced by a new one
    }
  }
}

async function pollPin(base: string, pin: number, code: string, pollMs: number, deadline: number) {
  for (;;) {
    const body = await json<{ controller_path?: string; secret_key?: string }>(
      await request({ base }, 'GET', `${base}/api/v1/pins/${pin}`, undefined, { pin_code: code }),
    )
    if (body.secret_key && body.controller_path)
      return { secret_key: body.secret_key, controller_path: body.controller_path }
    if (Date.now() + pollMs > deadline) throw new ConnectionError(`PIN ${pin} was not assigned in time`)
    await new Promise((r) => setTimeout(r, pollMs))
  }
}

function readConfig(path: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

// Written whole to a temporary file (mode 0600 from the start, so the key is never readable by
// others) and renamed over the old one.
function writeConfig(path: string, config: ControllerConfig): void {
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 })
  chmodSync(tmp, 0o600)
  renameSync(tmp, path)
}
