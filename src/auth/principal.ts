import type { Attestations, CallerKind } from '../config/types.js';

/** Who is calling, as established by a verified token and/or a verified client certificate. */
export interface Principal {
  readonly subject: string;
  readonly kind: CallerKind;
  readonly organisation: string | undefined;
  readonly roles: readonly string[];
  readonly attestations: Attestations;
  /** How the identity was proven. */
  readonly via: 'token' | 'certificate' | 'token+certificate';
  /** The trusted issuer id (config), when a token was used. */
  readonly issuer: string | undefined;
  /** SHA-256 thumbprint (base64url) of the verified client certificate, when one was presented. */
  readonly certificateThumbprint: string | undefined;
  /**
   * The application the request came through (`clients`), when the verified caller is one. The
   * other fields then name the person acting through it, or the application acting on its own.
   */
  readonly application?: {
    readonly id: string;
    /** How the person was named: their forwarded token, the application's user header, or no one. */
    readonly endUser: 'token' | 'header' | 'none';
  };
}

/** A verified client certificate, reduced to what identity mapping and binding need. */
export interface PresentedCertificate {
  readonly commonName: string | undefined;
  readonly uris: readonly string[];
  /** base64url(SHA-256(DER)) — the RFC 8705 x5t#S256 value. */
  readonly thumbprint: string;
}

export type AuthFailureCode =
  | 'CUSTODIAN_AUTH_MISSING'
  | 'CUSTODIAN_AUTH_INVALID'
  | 'CUSTODIAN_AUTH_EXPIRED'
  | 'CUSTODIAN_CLIENT_CERT_REQUIRED'
  | 'CUSTODIAN_END_USER_REQUIRED'
  | 'CUSTODIAN_END_USER_UNTRUSTED';

/** A refusal with a safe hint for the caller (never the token or a claim value). */
export interface AuthFailure {
  readonly ok: false;
  readonly code: AuthFailureCode;
  readonly hint: string;
}

export type AuthResult = { readonly ok: true; readonly principal: Principal } | AuthFailure;

export function authFailure(code: AuthFailureCode, hint: string): AuthFailure {
  return { ok: false, code, hint };
}
