import type { Principal } from '../auth/principal.js';
import { endOfDayEpoch } from '../config/build-auth.js';
import type { PurposeConfig } from '../config/types.js';

/** A catalogue entry prepared for per-request checks. */
export interface CompiledPurpose {
  readonly config: PurposeConfig;
  readonly roles: ReadonlySet<string>;
  readonly kinds: ReadonlySet<string>;
  /** Epoch second after which the purpose is disabled. */
  readonly reviewEndsAt: number;
}

export type PurposeRefusal =
  | 'CUSTODIAN_PURPOSE_MISSING'
  | 'CUSTODIAN_PURPOSE_UNKNOWN'
  | 'CUSTODIAN_PURPOSE_NOT_ALLOWED'
  | 'CUSTODIAN_PURPOSE_REVIEW_EXPIRED'
  | 'CUSTODIAN_ATTESTATION_LAPSED';

export type PurposeDecision =
  | { readonly ok: true; readonly purpose: CompiledPurpose }
  | { readonly ok: false; readonly code: PurposeRefusal; readonly hint: string };

export function compilePurposes(purposes: readonly PurposeConfig[]): ReadonlyMap<string, CompiledPurpose> {
  const map = new Map<string, CompiledPurpose>();
  for (const p of purposes) {
    map.set(p.id, Object.freeze({
      config: p,
      roles: new Set(p.roles),
      kinds: new Set(p.callerKinds),
      reviewEndsAt: endOfDayEpoch(p.reviewUntil),
    }));
  }
  return map;
}

export const PURPOSE_ID = /^[a-z][a-z0-9_.-]{0,63}$/;

/** A declared purpose as records keep it: one well-formed id, or nothing (never arbitrary header text). */
export function declaredPurposeOf(values: readonly string[]): string | undefined {
  if (values.length !== 1) return undefined;
  const id = (values[0] as string).trim();
  return PURPOSE_ID.test(id) ? id : undefined;
}

/**
 * Decide whether this caller may use the declared purpose on this route (PIPL art. 6: a clear,
 * reasonable purpose for each processing). `declared` holds every value of the purpose header
 * as received: exactly one, holding exactly one id, is accepted.
 */
export function authorizePurpose(
  declared: readonly string[],
  principal: Principal,
  routePurposes: ReadonlySet<string>,
  catalogue: ReadonlyMap<string, CompiledPurpose>,
  nowSec: number,
): PurposeDecision {
  if (declared.length !== 1) {
    return refuse('CUSTODIAN_PURPOSE_MISSING', declared.length === 0 ? 'Declare the purpose in the purpose header.' : 'Declare exactly one purpose header.');
  }
  const id = (declared[0] as string).trim();
  if (id === '' || id.includes(',')) return refuse('CUSTODIAN_PURPOSE_MISSING', 'Declare exactly one purpose.');
  const purpose = PURPOSE_ID.test(id) ? catalogue.get(id) : undefined;
  if (!purpose) return refuse('CUSTODIAN_PURPOSE_UNKNOWN', 'Use a purpose id from the catalogue.');
  if (nowSec > purpose.reviewEndsAt) {
    return refuse('CUSTODIAN_PURPOSE_REVIEW_EXPIRED', `Purpose "${purpose.config.id}" needs a renewed review.`);
  }
  if (!purpose.kinds.has(principal.kind) || !principal.roles.some((r) => purpose.roles.has(r))) {
    return refuse('CUSTODIAN_PURPOSE_NOT_ALLOWED', `Purpose "${purpose.config.id}" is not allowed for this caller's roles.`);
  }
  if (!routePurposes.has(purpose.config.id)) {
    return refuse('CUSTODIAN_PURPOSE_NOT_ALLOWED', `Purpose "${purpose.config.id}" is not allowed on this route.`);
  }
  for (const name of purpose.config.requiredAttestations) {
    const until = principal.attestations[name];
    if (until !== true && !(typeof until === 'number' && until > nowSec)) {
      return refuse('CUSTODIAN_ATTESTATION_LAPSED', `Attestation "${name}" is missing or has lapsed.`);
    }
  }
  return { ok: true, purpose };
}

function refuse(code: PurposeRefusal, hint: string): PurposeDecision {
  return { ok: false, code, hint };
}
