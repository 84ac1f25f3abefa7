// Who is acting: the signed-in user or key, a controller's key, or nobody. A leaf module: the types
// the core passes around (CoreContext, messages/types.ts) import it without importing the rules.
export type Principal =
  | { kind: 'anonymous' }
  | {
      kind: 'user'
      userId: number
      systemAdmin: boolean
      /** organizations the user is a member of */
      organizationIds: number[]
      /** a key acts only inside its own organization */
      scopeOrganizationId?: number
      /** a system admin's key: administers its scope organization as its admins do, and no more */
      administersScope?: boolean
      keyId?: number
      /**
       * the browser session it signed in with (a session cookie, or an MQTT token issued for one): its connections end
       * with it
       */
      sessionId?: number
    }
  | { kind: 'controller'; controllerId: number; organizationId: number; keyId: number }
