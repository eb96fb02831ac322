import type { AuthConfig } from '../config/types.js';
import { extractBearer } from './bearer.js';
import { certificatePrincipal } from './certificate.js';
import { createJwtVerifier, type VerifiedToken } from './jwt.js';
import { type AuthResult, authFailure, type Principal, type PresentedCertificate } from './principal.js';
import { TokenCache } from './token-cache.js';

/** What authentication needs from a request, independent of any HTTP framework. */
export interface AuthInput {
  /** Every Authorization header value as received. */
  readonly authorization: readonly string[];
  readonly rawQuery: string;
  /** The client certificate, only when the TLS layer verified it against the client CA. */
  readonly certificate: PresentedCertificate | undefined;
}

export interface Authenticator {
  authenticate(input: AuthInput): Promise<AuthResult>;
  readonly cache: TokenCache;
}

/**
 * Build the authenticator for one compiled policy: keys imported and JWKS sets created once.
 * Token and certificate are each checked on their own, then combined under the policy's
 * requirements (certificate required, token required, token bound to the certificate).
 */
export function createAuthenticator(auth: AuthConfig, now: () => number = Date.now): Authenticator {
  const verifyJwt = createJwtVerifier(auth, now);
  const cache = new TokenCache(auth.tokenCacheMaxEntries, now);
  const requireCert = new Set(auth.requireCertificateFor);
  const requireToken = new Set(auth.requireTokenFor);
  const requireBound = new Set(auth.requireBoundTokenFor);

  async function verifiedToken(token: string): Promise<{ ok: true; token: VerifiedToken } | Exclude<AuthResult, { ok: true }>> {
    const digest = TokenCache.digest(token);
    const cached = cache.get(digest);
    if (cached) return { ok: true, token: cached };
    const result = await verifyJwt(token);
    if (result.ok) cache.set(digest, result.token);
    return result;
  }

  async function authenticate(input: AuthInput): Promise<AuthResult> {
    const bearer = extractBearer(input.authorization, input.rawQuery, auth.maxTokenBytes);
    if (!bearer.ok) return bearer;
    const cert = input.certificate;
    const fromCert = cert ? certificatePrincipal(cert, auth.clientCertificates) : undefined;

    let principal: Principal;
    if (bearer.token !== undefined) {
      const verified = await verifiedToken(bearer.token);
      if (!verified.ok) return verified;
      const { claims, certificateBinding, issuerId } = verified.token;
      // RFC 8705 §3: a bound token is only valid with the certificate it is bound to.
      if (certificateBinding !== undefined && certificateBinding !== cert?.thumbprint) {
        return cert
          ? authFailure('CUSTODIAN_AUTH_INVALID', 'The token is bound to a different client certificate.')
          : authFailure('CUSTODIAN_CLIENT_CERT_REQUIRED', 'The token is certificate-bound; present that certificate.');
      }
      if (fromCert && (fromCert.kind !== claims.kind || fromCert.organisation !== claims.organisation)) {
        return authFailure('CUSTODIAN_AUTH_INVALID', 'The token and the client certificate identify different callers.');
      }
      if (requireBound.has(claims.kind) && certificateBinding === undefined) {
        return cert
          ? authFailure('CUSTODIAN_AUTH_INVALID', 'This caller needs a token bound to its certificate (cnf.x5t#S256).')
          : authFailure('CUSTODIAN_CLIENT_CERT_REQUIRED', 'This caller must present its client certificate.');
      }
      principal = {
        ...claims,
        via: cert ? 'token+certificate' : 'token',
        issuer: issuerId,
        certificateThumbprint: cert?.thumbprint,
      };
    } else if (fromCert) {
      if (requireToken.has(fromCert.kind) || requireBound.has(fromCert.kind)) {
        return authFailure('CUSTODIAN_AUTH_MISSING', 'This caller must also present a bearer token.');
      }
      principal = { ...fromCert, via: 'certificate', issuer: undefined, certificateThumbprint: cert?.thumbprint };
    } else {
      return authFailure('CUSTODIAN_AUTH_MISSING', 'Send "Authorization: Bearer <token>".');
    }

    if (requireCert.has(principal.kind) && !cert) {
      return authFailure('CUSTODIAN_CLIENT_CERT_REQUIRED', 'This caller must present a client certificate.');
    }
    return { ok: true, principal: Object.freeze(principal) };
  }

  return { authenticate, cache };
}
