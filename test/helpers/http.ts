// Small helpers for tests that speak HTTP and wait for things to happen.

/** An Authorization header value the way rhizo's client sends a key: Basic with the client version as user name. */
export function basicAuth(key: string, clientVersion = 'test-client'): string {
  return 'Basic ' + Buffer.from(`${clientVersion}:${key}`).toString('base64')
}

/** Polls check until it holds or ms pass; returns whether it held. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 3000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline;) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, 25))
  }
  return check()
}
