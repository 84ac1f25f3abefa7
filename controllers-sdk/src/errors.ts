// Typed errors, so a controller program can tell "fix the key" from "try again later" without
// parsing messages. Every error the SDK raises or emits is a TendrilSdkError.

export class TendrilSdkError extends Error {
  /** HTTP status or MQTT return code behind the error, when there was one */
  readonly status?: number
  constructor(message: string, status?: number) {
    super(message)
    this.name = new.target.name
    if (status !== undefined) this.status = status
  }
}

/** The key was refused: CONNACK 4/5 on MQTT, 401 on REST. Retrying will not help. */
export class AuthError extends TendrilSdkError {}
/**
 * The key is valid but may not do this: 403 on REST, SUBACK 0x80, or a publish the server closed the connection for.
 */
export class PermissionError extends TendrilSdkError {}
/** No such resource (404), or one the key cannot see — the server does not say which. */
export class NotFoundError extends TendrilSdkError {}
/** The request or a value was refused as malformed (400), too large (413) or in conflict (409). */
export class ValidationError extends TendrilSdkError {}
/** A provisioning PIN outlived its 30 minutes (410). */
export class ExpiredError extends TendrilSdkError {}
/** The server could not be reached, or answered with something the SDK does not understand. */
export class ConnectionError extends TendrilSdkError {}

/** The error for an HTTP status and the server's `{status:'error', message}` body. */
export function errorForStatus(status: number, message: string): TendrilSdkError {
  if (status === 401) return new AuthError(message, status)
  if (status === 403) return new PermissionError(message, status)
  if (status === 404) return new NotFoundError(message, status)
  if (status === 410) return new ExpiredError(message, status)
  if (status === 400 || status === 409 || status === 413) return new ValidationError(message, status)
  return new ConnectionError(message, status)
}
