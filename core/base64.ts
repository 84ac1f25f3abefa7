// Base64 as clients send it (rhizo's client b64encodes files and values): the standard or the
// URL-safe alphabet, padding optional, white space such as a MIME encoder's line breaks ignored.
// Node's base64 decoder takes both alphabets.
const ALPHABET = /^[A-Za-z0-9+/_-]*={0,2}$/

/** The text without its white space, or null when what is left is not base64. */
export function compactBase64(text: string): string | null {
  const compact = text.replace(/\s+/g, '')
  // one character beyond a whole group of four carries no full byte: not base64
  if (!ALPHABET.test(compact) || compact.replace(/=+$/, '').length % 4 === 1) return null
  return compact
}

/** The bytes of base64 text, or null when it is not base64. */
export function decodeBase64(text: string): Buffer | null {
  const compact = compactBase64(text)
  return compact === null ? null : Buffer.from(compact, 'base64')
}
