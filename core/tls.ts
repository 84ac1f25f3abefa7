// The certificate both listeners serve when --tls-cert and --tls-key are set: HTTPS (REST, and
// MQTT and rhizo's JSON websocket over wss://) and MQTT over TLS on --mqtt-port. Read at start and
// again on reload (`tendril serve` reloads on SIGHUP, e.g. from a certbot deploy hook): connections
// already open keep the certificate they were made with.
import { readFileSync } from 'node:fs'
import { createSecureContext, type SecureContextOptions } from 'node:tls'

export interface TlsFiles {
  certFile: string
  keyFile: string
}

/** The PEM certificate chain and key; throws with the file at fault when one cannot be used. */
export function readTlsFiles(files: TlsFiles): SecureContextOptions {
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path)
    } catch (err) {
      throw new Error(
        `cannot read the TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        { cause: err },
      )
    }
  }
  const options = { cert: read('certificate', files.certFile), key: read('key', files.keyFile) }
  try {
    // a key that does not match, or a file that is not PEM, fails here and not at the first handshake
    createSecureContext(options)
  } catch (err) {
    throw new Error(
      `the TLS certificate ${files.certFile} and key ${files.keyFile} cannot be used together: ${(err as Error).message}`,
      { cause: err },
    )
  }
  return options
}

/** What can take a new certificate: tls.Server and https.Server. */
export interface SecureServer {
  setSecureContext(options: SecureContextOptions): void
}
