import type { PresentedCertificate } from '../auth/principal.js';

/**
 * What any front end (HTTP, the PostgreSQL listener, `custodian explain`) can tell `decide` about
 * one request. Plain values only: no framework object, no socket.
 */
export interface RequestFacts {
  /** HTTP method (or, for other protocols, the statement kind mapped onto one). */
  readonly method: string;
  /** The request-target exactly as received: path and query, not normalised. */
  readonly target: string;
  /** Every Authorization value as received (several is an attack, not a choice). */
  readonly authorization: readonly string[];
  /** Every declared-purpose value as received. */
  readonly declaredPurposes: readonly string[];
  /** Every four-eyes approval id as received (destructive routes need exactly one). */
  readonly approvals: readonly string[];
  /** Body length the client declared (0 when none). */
  readonly declaredBodyBytes: number;
  /** The client certificate, only when the TLS layer verified it against the client CA. */
  readonly certificate: PresentedCertificate | undefined;
  /**
   * Every value received for each header that applications (`clients`) use to name their users,
   * by lower-case name. Absent for front ends that have no such headers.
   */
  readonly endUserHeaders?: ReadonlyMap<string, readonly string[]>;
}
