import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  createRemoteJWKSet,
  decodeJwt,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  type ProtectedHeaderParameters,
} from 'jose';
import type { AuthConfig, IssuerConfig } from '../config/types.js';
import { type MappedClaims, mapClaims } from './claims.js';
import { type AuthFailure, authFailure } from './principal.js';

export interface VerifiedToken {
  readonly issuerId: string;
  readonly claims: MappedClaims;
  /** exp in epoch seconds (required). */
  readonly exp: number;
  /** RFC 8705 cnf.x5t#S256, when the token is bound to a certificate. */
  readonly certificateBinding: string | undefined;
}

export type TokenVerification = { ok: true; token: VerifiedToken } | AuthFailure;

/** Import a static key once: PEM (SPKI or certificate) or a JWK in JSON. */
function importStaticKey(text: string): KeyObject {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) return createPublicKey({ key: JSON.parse(trimmed), format: 'jwk' });
  return createPublicKey(trimmed);
}

function keyResolver(issuer: IssuerConfig): JWTVerifyGetKey | KeyObject {
  if (issuer.jwks) {
    return createRemoteJWKSet(new URL(issuer.jwks.url), {
      cacheMaxAge: issuer.jwks.cacheMaxAgeSec * 1000,
      cooldownDuration: issuer.jwks.cooldownSec * 1000,
      timeoutDuration: issuer.jwks.timeoutMs,
    });
  }
  const keys = issuer.keys.map((k) => ({ kid: k.kid, key: importStaticKey(k.key) }));
  const only = keys.length === 1 ? keys[0] : undefined;
  if (only && only.kid === undefined) return only.key;
  const byKid = new Map(keys.map((k) => [k.kid, k.key]));
  return (header: ProtectedHeaderParameters) => {
    const key = header.kid === undefined ? undefined : byKid.get(header.kid);
    if (!key) throw new errors.JWKSNoMatchingKey();
    return key;
  };
}

/**
 * Verifies bearer tokens against the configured issuers. The issuer is chosen by the token's
 * (unverified) `iss`, then everything is checked against that issuer's keys, audience and
 * algorithm allow-list; the algorithm list only ever holds asymmetric algorithms (schema), and
 * jose refuses a key whose type does not match the header's `alg`.
 */
export function createJwtVerifier(auth: AuthConfig, now: () => number = Date.now) {
  const byIssuer = new Map(auth.issuers.map((i) => [i.issuer, { config: i, key: keyResolver(i) }]));

  return async function verify(token: string): Promise<TokenVerification> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      return authFailure('CUSTODIAN_AUTH_INVALID', 'The token is not a well-formed JWT.');
    }
    const entry = typeof unverified.iss === 'string' ? byIssuer.get(unverified.iss) : undefined;
    if (!entry) return authFailure('CUSTODIAN_AUTH_INVALID', 'The token issuer is not trusted.');
    const { config } = entry;
    let payload: JWTPayload;
    try {
      const result = await jwtVerify(token, entry.key as JWTVerifyGetKey, {
        issuer: config.issuer,
        audience: [...config.audience],
        algorithms: [...config.algorithms],
        clockTolerance: auth.clockToleranceSec,
        currentDate: new Date(now()),
        requiredClaims: ['exp'],
      });
      payload = result.payload;
    } catch (err) {
      return failureFor(err);
    }
    const exp = payload.exp as number;
    const nowSec = now() / 1000;
    const lifetime = typeof payload.iat === 'number' ? exp - payload.iat : exp - nowSec;
    if (lifetime > auth.maxTokenLifetimeSec) {
      return authFailure('CUSTODIAN_AUTH_INVALID', `The token lifetime exceeds ${auth.maxTokenLifetimeSec} seconds.`);
    }
    if (typeof payload.iat === 'number' && payload.iat > nowSec + auth.clockToleranceSec) {
      return authFailure('CUSTODIAN_AUTH_INVALID', 'The token was issued in the future.');
    }
    const claims = mapClaims(payload as Record<string, unknown>, config.claims);
    if (typeof claims === 'string') return authFailure('CUSTODIAN_AUTH_INVALID', `The token's ${claims}.`);
    const cnf = payload.cnf as Record<string, unknown> | undefined;
    const binding = cnf && typeof cnf === 'object' ? cnf['x5t#S256'] : undefined;
    if (cnf !== undefined && typeof binding !== 'string') {
      return authFailure('CUSTODIAN_AUTH_INVALID', 'The token has a cnf claim without x5t#S256.');
    }
    const certificateBinding = typeof binding === 'string' ? binding : undefined;
    return { ok: true, token: { issuerId: config.id, claims, exp, certificateBinding } };
  };
}

function failureFor(err: unknown): AuthFailure {
  if (err instanceof errors.JWTExpired) return authFailure('CUSTODIAN_AUTH_EXPIRED', 'Obtain a new token.');
  if (err instanceof errors.JWTClaimValidationFailed) {
    // Name the claim (iss, aud, nbf…), never its value.
    return authFailure('CUSTODIAN_AUTH_INVALID', `The token's "${err.claim}" claim is not acceptable.`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return authFailure('CUSTODIAN_AUTH_INVALID', 'The token algorithm is not allowed.');
  if (err instanceof errors.JWKSNoMatchingKey) return authFailure('CUSTODIAN_AUTH_INVALID', 'No trusted key matches the token.');
  if (err instanceof errors.JWKSTimeout || (err instanceof errors.JOSEError && err.code === 'ERR_JOSE_GENERIC')) {
    return authFailure('CUSTODIAN_AUTH_INVALID', 'The issuer keys could not be obtained.');
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return authFailure('CUSTODIAN_AUTH_INVALID', 'The token signature is not valid.');
  }
  // Anything else (malformed, key-type mismatch, JWKS fetch failure): fail closed.
  return authFailure('CUSTODIAN_AUTH_INVALID', 'The token could not be verified.');
}
