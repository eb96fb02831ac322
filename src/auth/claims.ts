import type { Attestations, CallerKind, IssuerConfig } from '../config/types.js';

const KINDS: ReadonlySet<string> = new Set(['staff', 'service', 'partner']);

/** Read a claim by dot path ("realm_access.roles"); own properties only. */
function claimAt(payload: Record<string, unknown>, path: string): unknown {
  let value: unknown = payload;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

export interface MappedClaims {
  readonly subject: string;
  readonly kind: CallerKind;
  readonly organisation: string | undefined;
  readonly roles: readonly string[];
  readonly attestations: Attestations;
}

/**
 * Map a verified payload to identity fields per the issuer's claim mapping. A claim of the
 * wrong shape is an invalid token, never silently ignored (a `kind` typo must not make a partner
 * look like staff).
 */
export function mapClaims(payload: Record<string, unknown>, claims: IssuerConfig['claims']): MappedClaims | string {
  const subject = claimAt(payload, claims.subject);
  if (typeof subject !== 'string' || subject === '') return 'subject claim missing';

  const rawKind = claimAt(payload, claims.kind);
  if (rawKind !== undefined && (typeof rawKind !== 'string' || !KINDS.has(rawKind))) return 'kind claim invalid';
  const kind = (rawKind as CallerKind | undefined) ?? claims.defaultKind;

  const rawRoles = claimAt(payload, claims.roles);
  let roles: string[];
  if (rawRoles === undefined) roles = [];
  else if (typeof rawRoles === 'string') roles = rawRoles.split(' ').filter(Boolean);
  else if (Array.isArray(rawRoles) && rawRoles.every((r) => typeof r === 'string')) roles = [...rawRoles];
  else return 'roles claim invalid';

  const rawOrg = claimAt(payload, claims.organisation);
  if (rawOrg !== undefined && typeof rawOrg !== 'string') return 'organisation claim invalid';

  const rawAtt = claimAt(payload, claims.attestations);
  const attestations: Record<string, number | true> = Object.create(null);
  if (rawAtt !== undefined) {
    if (rawAtt === null || typeof rawAtt !== 'object' || Array.isArray(rawAtt)) return 'attestations claim invalid';
    for (const [name, v] of Object.entries(rawAtt)) {
      // true: does not lapse; a number: valid until that epoch second. Anything else: not attested.
      if (v === true || (typeof v === 'number' && Number.isFinite(v))) attestations[name] = v;
    }
  }
  return {
    subject,
    kind,
    organisation: rawOrg as string | undefined,
    roles: Object.freeze(roles),
    attestations: Object.freeze(attestations),
  };
}
