import type { AuthConfig, ClientConfig } from '../config/types.js';
import { type Applications, compileApplications } from './applications.js';
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
  /** Verify one token (through the cache): also used for users' tokens forwarded by applications. */
  verifyToken(token: string): Promise<{ ok: true; token: VerifiedToken } | Exclude<AuthResult, { ok: true }>>;
  readonly applications: Applications;
  readonly cache: TokenCache;
}

/** An application acting on its own: its id as subject, the roles its `clients` entry gives it. */
function applicationPrincipal(client: ClientConfig, via: Principal['via'], issuer: string | undefined, thumbprint: string | undefined): Principal {
  return {
    subject: client.id,
    kind: 'service',
    organisation: undefined,
    roles: client.roles,
    attestations: client.attestations,
    via,
    issuer,
    certificateThumbprint: thumbprint,
    application: { id: client.id, endUser: 'none' },
  };
}

/**
 * Build the authenticator for one compiled policy: keys imported and JWKS sets created once.
 * Token and certificate are each checked on their own, then combined under the policy's
 * requirements (certificate required, token required, token bound to the certificate).
 */
export function createAuthenticator(auth: AuthConfig, now: () => number = Date.now, clients: readonly ClientConfig[] = []): Authenticator {
  const applications = compileApplications(clients);
  const verifyJwt = createJwtVerifier(auth, now);
  const cache = new TokenCache(auth.tokenCacheMaxEntries, now);
  const requireCert = new Set(auth.requireCertificateFor);
  const requireToken = new Set(auth.requireTokenFor);
  const requireBound = new Set(auth.requireBoundTokenFor);

  // A token presented without a certificate names the same caller on every request: its
  // principal is built once per verified (cached) token, not spread out of the claims each time.
  const tokenOnlyPrincipals = new WeakMap<VerifiedToken, Principal>();
  function tokenOnlyPrincipal(token: VerifiedToken): Principal {
    let principal = tokenOnlyPrincipals.get(token);
    if (!principal) {
      principal = Object.freeze({ ...token.claims, via: 'token', issuer: token.issuerId, certificateThumbprint: undefined });
      tokenOnlyPrincipals.set(token, principal);
    }
    return principal;
  }

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
    const certApplication = cert ? applications.byCertificate(cert) : undefined;

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
      const tokenApplication = applications.byToken(issuerId, claims.subject);
      const differentCallers = tokenApplication
        ? fromCert !== undefined || (certApplication !== undefined && certApplication !== tokenApplication)
        : certApplication !== undefined || (fromCert !== undefined && (fromCert.kind !== claims.kind || fromCert.organisation !== claims.organisation));
      if (differentCallers) {
        return authFailure('CUSTODIAN_AUTH_INVALID', 'The token and the client certificate identify different callers.');
      }
      if (tokenApplication) {
        // An application's client-credentials token: who acts through it is settled afterwards.
        const principal = applicationPrincipal(tokenApplication, cert ? 'token+certificate' : 'token', issuerId, cert?.thumbprint);
        return requireCert.has('service') && !cert
          ? authFailure('CUSTODIAN_CLIENT_CERT_REQUIRED', 'This caller must present a client certificate.')
          : { ok: true, principal: Object.freeze(principal) };
      }
      if (requireBound.has(claims.kind) && certificateBinding === undefined) {
        return cert
          ? authFailure('CUSTODIAN_AUTH_INVALID', 'This caller needs a token bound to its certificate (cnf.x5t#S256).')
          : authFailure('CUSTODIAN_CLIENT_CERT_REQUIRED', 'This caller must present its client certificate.');
      }
      principal = cert
        ? { ...claims, via: 'token+certificate', issuer: issuerId, certificateThumbprint: cert.thumbprint }
        : tokenOnlyPrincipal(verified.token);
    } else if (certApplication) {
      if (requireToken.has('service') || requireBound.has('service')) {
        return authFailure('CUSTODIAN_AUTH_MISSING', 'This caller must also present a bearer token.');
      }
      principal = applicationPrincipal(certApplication, 'certificate', undefined, cert?.thumbprint);
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

  return { authenticate, verifyToken: verifiedToken, applications, cache };
}
