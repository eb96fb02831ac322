import { type AuthFailure, authFailure } from './principal.js';

// RFC 6750 §2.1 b64token. Exactly "Bearer", one space, the token: anything looser (lower-case
// scheme, extra spaces, a second credential) is refused rather than guessed at, so two parsers
// (ours and the upstream's) can never read different credentials from the same header.
export const B64TOKEN = '[A-Za-z0-9\\-._~+/]+=*';
const BEARER = new RegExp(`^Bearer (${B64TOKEN})$`);
// Query parameters that carry tokens in other systems; a token there ends up in access logs.
const TOKEN_PARAMS = new Set(['access_token', 'id_token', 'token', 'jwt', 'bearer']);
const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

export type BearerExtraction = { ok: true; token: string | undefined } | AuthFailure;

/**
 * Find the bearer token of a request. `authorization` holds every Authorization header value as
 * received (duplicates included: Node keeps only the first, so callers pass the raw list).
 */
export function extractBearer(authorization: readonly string[], rawQuery: string, maxBytes: number): BearerExtraction {
  if (rawQuery !== '' && queryCarriesToken(rawQuery)) {
    return authFailure('CUSTODIAN_AUTH_INVALID', 'Tokens are never accepted in the query string; use the Authorization header.');
  }
  if (authorization.length === 0) return { ok: true, token: undefined };
  if (authorization.length > 1) {
    return authFailure('CUSTODIAN_AUTH_INVALID', 'Send exactly one Authorization header.');
  }
  const value = authorization[0] as string;
  if (value.length > maxBytes + 7) {
    return authFailure('CUSTODIAN_AUTH_INVALID', `The token is longer than ${maxBytes} bytes.`);
  }
  const match = BEARER.exec(value);
  if (!match) {
    return authFailure('CUSTODIAN_AUTH_INVALID', 'Use exactly "Authorization: Bearer <token>".');
  }
  return { ok: true, token: match[1] as string };
}

function queryCarriesToken(rawQuery: string): boolean {
  for (const pair of rawQuery.split('&')) {
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(rawName.replaceAll('+', ' ')).toLowerCase();
      value = decodeURIComponent(rawValue.replaceAll('+', ' '));
    } catch {
      return true; // undecodable: cannot prove it is not a token
    }
    if (TOKEN_PARAMS.has(name) || JWT_SHAPE.test(value) || value.startsWith('Bearer ')) return true;
  }
  return false;
}
