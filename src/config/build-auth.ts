import type { PathIssue } from './issues.js';
import { isLoopbackHost } from './loopback.js';
import type { SecretRef } from './secrets.js';
import type {
  Attestations,
  AuthConfig,
  CallerKind,
  ClientCertificateMapping,
  IssuerConfig,
  PrincipalTemplate,
  PurposeConfig,
} from './types.js';

/** What section builders need from the loader: secret resolution and a place to put issues. */
export interface BuildContext {
  secret(ref: SecretRef | undefined, path: (string | number)[]): string | undefined;
  readonly issues: PathIssue[];
}

interface RawPrincipal {
  subject: string;
  kind: CallerKind;
  organisation?: string;
  roles?: string[];
  attestations?: Record<string, true | string>;
}

export interface RawAuth {
  purposeHeader?: string;
  clockToleranceSec?: number;
  maxTokenLifetimeSec?: number;
  maxTokenBytes?: number;
  tokenCache?: { maxEntries?: number };
  requireCertificateFor?: CallerKind[];
  requireTokenFor?: CallerKind[];
  requireBoundTokenFor?: CallerKind[];
  issuers?: {
    id: string;
    issuer: string;
    audience: string | string[];
    algorithms: string[];
    jwks?: { url: string; allowPlaintext?: boolean; cacheMaxAgeSec?: number; cooldownSec?: number; timeoutMs?: number };
    keys?: { kid?: string; key: SecretRef }[];
    claims?: Partial<IssuerConfig['claims']>;
  }[];
  clientCertificates?: { match: { cn?: string; uri?: string }; principal: RawPrincipal }[];
}

export interface RawPurpose {
  id: string;
  description: string;
  lawfulBasis: PurposeConfig['lawfulBasis'];
  roles?: string[];
  callerKinds?: CallerKind[];
  requiredAttestations?: string[];
  approvedBy: string;
  reviewUntil: string;
  bulkLimit?: { windowSeconds?: number; alertAt?: number; refuseAt: number };
}

/** A YYYY-MM-DD date as the epoch second at the end of that UTC day (the day is included). */
export function endOfDayEpoch(date: string): number {
  return Date.parse(`${date}T23:59:59Z`) / 1000;
}

/** Attestations as written in the file (true, or a last valid day) → valid-until epoch seconds. */
export function attestationsFrom(raw: Record<string, true | string> | undefined): Attestations {
  const attestations: Record<string, number | true> = Object.create(null);
  for (const [name, value] of Object.entries(raw ?? {})) {
    attestations[name] = value === true ? true : endOfDayEpoch(value);
  }
  return attestations;
}

function principalFrom(raw: RawPrincipal): PrincipalTemplate {
  const attestations = attestationsFrom(raw.attestations);
  return {
    subject: raw.subject,
    kind: raw.kind,
    organisation: raw.organisation,
    roles: [...(raw.roles ?? [])],
    attestations,
  };
}

export function buildAuth(raw: RawAuth | undefined, ctx: BuildContext): AuthConfig {
  const a = raw ?? {};
  const issuers: IssuerConfig[] = (a.issuers ?? []).map((i, index) => {
    const path = ['auth', 'issuers', index];
    if ((i.jwks === undefined) === (i.keys === undefined)) {
      ctx.issues.push({ path, message: 'an issuer needs exactly one key source: jwks or keys' });
    }
    if (i.jwks) {
      const url = new URL(i.jwks.url);
      if (url.protocol === 'http:' && !(i.jwks.allowPlaintext && isLoopbackHost(url.hostname))) {
        ctx.issues.push({
          path: [...path, 'jwks', 'url'],
          message: 'a plaintext JWKS URL is allowed only on a loopback host with allowPlaintext: true',
        });
      }
    }
    const keys = (i.keys ?? []).map((k, keyIndex) => ({
      kid: k.kid,
      key: ctx.secret(k.key, [...path, 'keys', keyIndex, 'key']) ?? '',
    }));
    if (keys.length > 1 && keys.some((k) => k.kid === undefined)) {
      ctx.issues.push({ path: [...path, 'keys'], message: 'with several static keys each needs a kid' });
    }
    return {
      id: i.id,
      issuer: i.issuer,
      audience: Array.isArray(i.audience) ? [...i.audience] : [i.audience],
      algorithms: [...i.algorithms],
      jwks: i.jwks
        ? {
            url: i.jwks.url,
            cacheMaxAgeSec: i.jwks.cacheMaxAgeSec ?? 600,
            cooldownSec: i.jwks.cooldownSec ?? 30,
            timeoutMs: i.jwks.timeoutMs ?? 5000,
          }
        : undefined,
      keys,
      claims: {
        subject: i.claims?.subject ?? 'sub',
        roles: i.claims?.roles ?? 'roles',
        kind: i.claims?.kind ?? 'kind',
        defaultKind: i.claims?.defaultKind ?? 'staff',
        organisation: i.claims?.organisation ?? 'org',
        attestations: i.claims?.attestations ?? 'attestations',
      },
    };
  });
  const seenIssuers = new Map<string, number>();
  issuers.forEach((i, index) => {
    const before = seenIssuers.get(i.issuer);
    if (before !== undefined) {
      ctx.issues.push({ path: ['auth', 'issuers', index, 'issuer'], message: `issuer "${i.issuer}" is configured twice` });
    }
    seenIssuers.set(i.issuer, index);
  });

  const clientCertificates: ClientCertificateMapping[] = (a.clientCertificates ?? []).map((c) => ({
    match: { ...c.match },
    principal: principalFrom(c.principal),
  }));

  return {
    purposeHeader: (a.purposeHeader ?? 'X-Purpose').toLowerCase(),
    clockToleranceSec: a.clockToleranceSec ?? 30,
    maxTokenLifetimeSec: a.maxTokenLifetimeSec ?? 86400,
    maxTokenBytes: a.maxTokenBytes ?? 8192,
    tokenCacheMaxEntries: a.tokenCache?.maxEntries ?? 10000,
    requireCertificateFor: [...(a.requireCertificateFor ?? [])],
    requireTokenFor: [...(a.requireTokenFor ?? [])],
    requireBoundTokenFor: [...(a.requireBoundTokenFor ?? [])],
    issuers,
    clientCertificates,
  };
}

export function buildPurposes(raw: RawPurpose[] | undefined, ctx: BuildContext): PurposeConfig[] {
  const seen = new Set<string>();
  return (raw ?? []).map((p, index) => {
    if (seen.has(p.id)) ctx.issues.push({ path: ['purposes', index, 'id'], message: `duplicate purpose id "${p.id}"` });
    seen.add(p.id);
    if (Number.isNaN(endOfDayEpoch(p.reviewUntil))) {
      ctx.issues.push({ path: ['purposes', index, 'reviewUntil'], message: 'not a calendar date' });
    }
    return {
      id: p.id,
      description: p.description,
      lawfulBasis: p.lawfulBasis,
      roles: [...(p.roles ?? [])],
      callerKinds: [...(p.callerKinds ?? ['staff'])],
      requiredAttestations: [...(p.requiredAttestations ?? [])],
      approvedBy: p.approvedBy,
      reviewUntil: p.reviewUntil,
      bulkLimit: p.bulkLimit
        ? { windowSeconds: p.bulkLimit.windowSeconds ?? 3600, alertAt: p.bulkLimit.alertAt, refuseAt: p.bulkLimit.refuseAt }
        : undefined,
    };
  });
}
