// CONNECT: username "key" + an API key as password. Refusals use MQTT 3.1.1 CONNACK codes and a log line.
// Client ids are per principal: Aedes sees "<principal>/<client id>", so a CONNECT can resume or take
// over only a session of its own principal, and no principal can take, or block, another's id.
import type { Aedes, AedesOptions, AuthenticateError, Client, Connection } from 'aedes'
import { reportUnreachable } from '../core/db/availability.ts'
import { authenticateKeysWithOwner, type KeyOwnerMatch } from '../core/accounts/keys.ts'
import { authenticateToken, readAnonymousToken } from '../core/accounts/tokens.ts'
import type { Core } from '../core/index.ts'
import { anonymous, principalKey, type Principal } from '../core/resources/permissions.ts'
import { attach, clientsById, sessionOf } from './clients.ts'
import type { SessionsPerKey } from './limits.ts'
import type { PathResolver } from '../core/resources/resolver.ts'

type PreConnectHandler = NonNullable<AedesOptions['preConnect']>
type AuthenticateHandler = NonNullable<AedesOptions['authenticate']>

const IDENTIFIER_REJECTED = 2
const BAD_USERNAME_OR_PASSWORD = 4

function refusal(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError
}

const NOT_AUTHORIZED = 5
/** the database does not answer: the client should retry, not doubt its key */
const SERVER_UNAVAILABLE = 3
/** keys per batched lookup: well inside SQLite's bound-parameter limit */
const MAX_KEYS_PER_LOOKUP = 200
/** how long a CONNECT waits for others to join its key lookup */
const GATHER_MS = 5
/** how long a batch waits for a running lookup to end (gathering more meanwhile) before it runs beside it */
const PATIENCE_MS = 20
/**
 * key lookups running at once: a slow one must not hold up the CONNECTs behind it (PostgreSQL's pool has 10
 * connections)
 */
const LOOKUPS_AT_ONCE = 4

export function createConnectHooks(
  core: Core,
  aedes: Aedes,
  sessionsPerKey: SessionsPerKey,
  resolver: PathResolver,
): { preConnect: PreConnectHandler; authenticate: AuthenticateHandler } {
  // Key lookups are batched (a lookup costs ~0.35 ms of CPU plus ~0.015 ms per key on PostgreSQL): a
  // batch gathers the CONNECTs of GATHER_MS, and while another lookup runs it gathers on until that
  // one ends, but at most PATIENCE_MS: then it runs beside it, so a slow round trip holds up only its own batch.
  const waiting: { key: string; resolve(match: KeyOwnerMatch | null): void; reject(err: Error): void }[] = []
  let running = 0
  let since = 0 // when the first of the waiting CONNECTs arrived
  let timer: NodeJS.Timeout | undefined
  const lookUp = () => {
    const batch = waiting.splice(0, MAX_KEYS_PER_LOOKUP)
    running++
    authenticateKeysWithOwner(
      core,
      batch.map((w) => w.key),
    )
      .then(
        (matches) => batch.forEach((w, i) => w.resolve(matches[i] ?? null)),
        (err: Error) => batch.forEach((w) => w.reject(err)),
      )
      .finally(() => {
        running--
        startLookups()
      })
  }
  const startLookups = () => {
    const now = performance.now()
    while (waiting.length > 0 && running < LOOKUPS_AT_ONCE) {
      const waited = now - since
      if (waiting.length < MAX_KEYS_PER_LOOKUP && (waited < GATHER_MS || (running > 0 && waited < PATIENCE_MS))) break
      lookUp()
      since = now
    }
    clearTimeout(timer)
    timer = undefined
    if (waiting.length > 0 && running < LOOKUPS_AT_ONCE)
      timer = setTimeout(startLookups, (running === 0 ? GATHER_MS : PATIENCE_MS) - (now - since))
  }
  const findKey = (key: string) =>
    new Promise<KeyOwnerMatch | null>((resolve, reject) => {
      if (waiting.push({ key, resolve, reject }) === 1) since = performance.now()
      if (timer === undefined || waiting.length >= MAX_KEYS_PER_LOOKUP) startLookups()
    })

  // Aedes assigns an id to an empty client id whatever the session flag; a persistent session needs
  // an id of the client's own, so that case is remembered here and refused [MQTT-3.1.3-8].
  const emptyIdPersistent = new WeakSet<Client>()
  const persistent = new WeakSet<Client>()

  const preConnect: PreConnectHandler = (client, packet, callback) => {
    if (!packet.clientId && packet.clean === false) emptyIdPersistent.add(client)
    if (packet.clean === false) persistent.add(client)
    callback(null, true)
  }

  // a controller's folder row comes with its key: kept, its own folder's access check reads nothing
  async function keyPrincipal(credential: string): Promise<Principal | null> {
    const found = await findKey(credential)
    if (found?.controller) resolver.remember(found.controller)
    return found?.principal ?? null
  }

  // (functions of their own, not closures made per CONNECT: tsx names every one it makes, at a cost)
  async function admit(
    client: Client,
    principal: Principal,
    viewer: { address: string } | null,
  ): Promise<string | null> {
    client.id = `${principalKey(principal)}/${client.id}`
    const holder = sessionOf(clientsById(aedes)[client.id])
    const counted = viewer ? `address:${viewer.address}` : countedAs(principal)
    // a reconnection with the same credential and id closes the old session: it takes no room of its own
    const replacing = holder !== undefined && countedAs(holder.principal) === counted
    if (counted !== undefined && !(await sessionsPerKey.admit(client, counted, replacing)))
      return `the key (or browser session, or address of anonymous viewers) already holds ${core.config.mqtt.connectionsPerKey} sessions`
    attach(client, principal)
    return null
  }

  const authenticate: AuthenticateHandler = (client, username, password, callback) => {
    if (emptyIdPersistent.has(client))
      return refuse(core, client, callback, IDENTIFIER_REJECTED, 'an empty client id needs a clean session')
    if ((username !== 'key' && username !== 'token') || !password) {
      return refuse(
        core,
        client,
        callback,
        BAD_USERNAME_OR_PASSWORD,
        'expected username "key" with an API key, or "token" with a token from /api/v1/mqtt-info',
      )
    }
    const credential = password.toString('utf8')
    // an anonymous viewer's token: one client id, a clean session, counted by the address it was issued to
    const viewer = username === 'token' ? readAnonymousToken(core, credential) : null
    if (viewer && viewer.clientId !== client.id)
      return refuse(
        core,
        client,
        callback,
        IDENTIFIER_REJECTED,
        'an anonymous token is good for the client id it was issued with',
      )
    if (viewer && persistent.has(client))
      return refuse(core, client, callback, IDENTIFIER_REJECTED, 'an anonymous viewer needs a clean session')
    const principal = viewer
      ? Promise.resolve(anonymous)
      : username === 'key'
        ? keyPrincipal(credential)
        : authenticateToken(core, credential)
    principal
      .then(async (principal) => {
        if (!principal)
          return refuse(
            core,
            client,
            callback,
            BAD_USERNAME_OR_PASSWORD,
            username === 'key' ? 'unknown or revoked key' : 'invalid or expired token',
          )
        const refused = await admit(client, principal, viewer)
        if (refused) return refuse(core, client, callback, NOT_AUTHORIZED, refused)
        callback(null, true)
      })
      .catch((err: Error) => {
        sessionsPerKey.leave(client)
        if (reportUnreachable(core.log, err, 'mqtt connect'))
          return refuse(core, client, callback, SERVER_UNAVAILABLE, 'the database does not answer')
        core.log.error({ err, clientId: client.id }, 'mqtt authentication failed')
        callback(refusal(BAD_USERNAME_OR_PASSWORD, 'authentication failed'), false)
      })
  }
  return { preConnect, authenticate }
}

/** What a session counts against for --mqtt-connections-per-key: its key, else its browser session, else its user. */
export function countedAs(principal: Principal): string | undefined {
  if (principal.kind === 'anonymous') return undefined
  if (principal.keyId !== undefined) return `key:${principal.keyId}`
  return principal.kind === 'user'
    ? principal.sessionId !== undefined
      ? `session:${principal.sessionId}`
      : `user:${principal.userId}`
    : undefined
}

function refuse(
  core: Core,
  client: Client,
  callback: Parameters<AuthenticateHandler>[3],
  code: number,
  reason: string,
) {
  core.log.info({ clientId: client.id, remote: remoteOf(client.conn), reason }, 'mqtt connection refused')
  callback(refusal(code, reason), false)
}

function remoteOf(conn: Connection | undefined): string | undefined {
  return (conn as { remoteAddress?: string } | undefined)?.remoteAddress
}
