import type { Principal } from '../auth/principal.js';
import type { PartnerConfig } from '../config/types.js';
import type { ConsentCache } from './consents.js';

/**
 * What a partner may receive about one customer: the fields its contract allows, narrowed to the
 * fields the customer consented to for this recipient and purpose; undefined when there is no
 * live consent (the customer's data is not provided at all).
 */
export type ScopeFor = (customerId: string) => ReadonlySet<string> | undefined;

export type PartnerCheck =
  | { ok: true; partner: PartnerConfig; scopeFor: ScopeFor }
  | { ok: false; code: 'CUSTODIAN_PARTNER_CONTRACT'; hint: string };

export function checkPartner(
  principal: Principal,
  purpose: string,
  partners: ReadonlyMap<string, PartnerConfig>,
  consents: ConsentCache,
  nowSec: number,
): PartnerCheck {
  const partner = principal.organisation ? partners.get(principal.organisation) : undefined;
  if (!partner) return { ok: false, code: 'CUSTODIAN_PARTNER_CONTRACT', hint: 'The partner is not in the registry.' };
  if (nowSec < partner.validFrom || nowSec > partner.validUntil) {
    return { ok: false, code: 'CUSTODIAN_PARTNER_CONTRACT', hint: "The partner's contract is not in force." };
  }
  if (nowSec > partner.securityReview.expiresAt) {
    return { ok: false, code: 'CUSTODIAN_PARTNER_CONTRACT', hint: "The partner's security review has lapsed." };
  }
  if (partner.ndaExpiresAt !== undefined && nowSec > partner.ndaExpiresAt) {
    return { ok: false, code: 'CUSTODIAN_PARTNER_CONTRACT', hint: "The partner's NDA has expired." };
  }
  if (!partner.purposes.includes(purpose)) {
    return { ok: false, code: 'CUSTODIAN_PARTNER_CONTRACT', hint: "The purpose is outside the partner's contract." };
  }
  const contractFields = new Set(partner.fields);
  const scopeFor: ScopeFor = (customerId) => {
    const consented = consents.fields(customerId, partner.id, purpose, nowSec * 1000);
    if (!consented) return undefined;
    return new Set([...consented].filter((f) => contractFields.has(f)));
  };
  return { ok: true, partner, scopeFor };
}

/**
 * The recipient a consent names when the lending company itself uses the data under a purpose
 * whose lawful basis is consent (PIPL art. 13(1)): the customer agreed to that use, not to a
 * third party's.
 */
export const OWN_USE_RECIPIENT = 'self';

/**
 * A purpose whose lawful basis is consent, used by the company's own staff or services: each
 * customer's live consent to the company (recipient `self`) for that purpose, narrowed to the
 * fields consented to — the same per-customer rule partners are held to, without a contract.
 */
export function ownUseScope(purpose: string, consents: ConsentCache, nowSec: number): ScopeFor {
  return (customerId) => consents.fields(customerId, OWN_USE_RECIPIENT, purpose, nowSec * 1000);
}

/** Remove, in place, the keys of a record outside the scope. Returns how many were removed. */
export function stripToScope(record: unknown, scope: ReadonlySet<string>): number {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return 0;
  let removed = 0;
  for (const key of Object.keys(record)) {
    if (!scope.has(key)) {
      delete (record as Record<string, unknown>)[key];
      removed++;
    }
  }
  return removed;
}
