import { createHmac } from 'node:crypto';

/** Keyed pseudonyms: HMAC-SHA256 under a key with an id, so joins work without the value. */
export interface PseudonymKeys {
  readonly active: string | undefined;
  readonly secrets: ReadonlyMap<string, string>;
}

/**
 * `p1_` + 22 base64url characters (128 bits of HMAC-SHA256). The same value under the same key
 * id gives the same token on every request and every replica; a new key id gives new tokens.
 */
export function pseudonymise(value: string, keyId: string, secret: string): string {
  const mac = createHmac('sha256', secret).update(value, 'utf8').digest();
  return `${keyId}_${mac.subarray(0, 16).toString('base64url')}`;
}
