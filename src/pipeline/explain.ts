import { createHash, X509Certificate } from 'node:crypto';
import { mapClaims } from '../auth/claims.js';
import type { Principal, PresentedCertificate } from '../auth/principal.js';
import type { ErrorCode } from '../errors.js';
import { BulkBudget, loadBulkBudget } from '../governance/bulk-guard.js';
import { ConsentCache } from '../governance/consents.js';
import { RestrictionCache } from '../governance/restrictions.js';
import { ResponseScoper, type ScopeCounts } from '../governance/response-scope.js';
import type { FieldPlan, FieldRule } from '../mask/plan.js';
import { FieldReport } from '../mask/report.js';
import { TransformError, applyView } from '../mask/walk.js';
import type { Policy } from '../policy/compile.js';
import { SubjectSet } from '../audit/subjects.js';
import type { Db } from '../store/db.js';
import { callerKey, type DecisionStores, decide } from './decide.js';
import type { Decision } from './decision.js';
import type { RequestFacts } from './facts.js';

/** One field of a sample body and what the view does to it. */
export interface FieldExplanation {
  readonly path: string;
  readonly class: string;
  readonly action: string;
  readonly rule: 'path' | 'name' | 'unknown field';
}

export interface Explanation {
  readonly decision: 'allow' | 'deny' | 'observe';
  readonly reason: ErrorCode | 'OK';
  readonly route: string | undefined;
  readonly purpose: string | undefined;
  readonly principal: Pick<Principal, 'subject' | 'kind' | 'organisation' | 'roles' | 'application'> | undefined;
  readonly fields: readonly FieldExplanation[];
  /** The purpose's view of the upstream body, exactly as the gateway would release it. */
  readonly view: unknown;
  /** What governance removed from a list body (restrictions, consent, bulk budget). */
  readonly scope: ScopeCounts | undefined;
  /** What was assumed instead of read (offline). */
  readonly assumptions: readonly string[];
}

/** The assumptions an offline explanation rests on, stated with every answer. */
export const OFFLINE_ASSUMPTIONS = Object.freeze([
  'no objection or restriction is on file for any customer',
  'no consent is on file for any customer (partners are refused)',
  'no caller has touched any customer in the bulk window',
]);

/** A store for offline answers: any query is a bug (offline decisions never read it). */
const NO_STORE: Db = {
  kind: 'pglite',
  query: () => Promise.reject(new Error('offline: no store')),
  exec: () => Promise.reject(new Error('offline: no store')),
  close: () => Promise.resolve(),
} as unknown as Db;

/** Stores that hold nothing: what `--offline` and policy tests decide against. */
export function offlineStores(): DecisionStores {
  return { restrictions: new RestrictionCache(NO_STORE), consents: new ConsentCache(NO_STORE), db: NO_STORE, readOnly: true, offline: true };
}

/**
 * The same policy, with a caller given as claims instead of a token ("what if" questions and
 * policy tests): authentication returns that principal — acting through `application` when one
 * is named, as if it had forwarded the person's token; every other stage is the gateway's.
 */
export function policyWithClaims(policy: Policy, claims: Record<string, unknown>, application?: string): Policy | string {
  if (application !== undefined && !policy.authenticator.applications.byId(application)) return `unknown application "${application}"`;
  const issuers = policy.config.auth.issuers;
  const issuer = issuers.find((i) => i.issuer === claims.iss) ?? (issuers.length === 1 ? issuers[0] : undefined);
  const mapping = issuer?.claims ?? { subject: 'sub', roles: 'roles', kind: 'kind', defaultKind: 'staff' as const, organisation: 'org', attestations: 'attestations' };
  const mapped = mapClaims(claims, mapping);
  if (typeof mapped === 'string') return mapped;
  // Through an application: the claims are the person its forwarded token names.
  const principal: Principal = {
    ...mapped,
    via: 'token',
    issuer: issuer?.id,
    certificateThumbprint: undefined,
    ...(application !== undefined ? { application: { id: application, endUser: 'token' as const } } : {}),
  };
  return Object.freeze({ ...policy, authenticator: { ...policy.authenticator, authenticate: async () => ({ ok: true as const, principal }) } });
}

/**
 * A client certificate as the gateway's TLS layer would present it: only if it chains to one of
 * the configured client CAs and is within its validity period (else it is not presented at all).
 */
export function certificateFromPem(pem: string, clientCaPem: string | undefined, nowMs: number): PresentedCertificate | undefined {
  const cert = new X509Certificate(pem);
  if (!clientCaPem) return undefined;
  const cas = clientCaPem.split(/(?=-----BEGIN CERTIFICATE-----)/).filter((p) => p.includes('BEGIN CERTIFICATE'));
  const trusted = cas.some((ca) => {
    const authority = new X509Certificate(ca);
    return cert.checkIssued(authority) && cert.verify(authority.publicKey);
  });
  if (!trusted || nowMs < Date.parse(cert.validFrom) || nowMs > Date.parse(cert.validTo)) return undefined;
  const uris = (cert.subjectAltName ?? '').split(', ').filter((e) => e.startsWith('URI:')).map((e) => e.slice(4));
  const cns = cert.subject.split('\n').filter((l) => l.startsWith('CN=')).map((l) => l.slice(3));
  return { commonName: cns.length === 1 ? cns[0] : undefined, uris, thumbprint: createThumbprint(cert.raw) };
}

/** RFC 8705 thumbprint, as auth/certificate.ts computes it for a TLS peer. */
function createThumbprint(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('base64url');
}

function listFields(value: unknown, plan: FieldPlan, path: string, out: FieldExplanation[], depth = 0): void {
  if (depth > 64 || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    // One representative per array: the view is the same for every item.
    const seen = new Set<string>();
    for (const item of value) {
      const before = out.length;
      listFields(item, plan, `${path}[*]`, out, depth + 1);
      for (const f of out.splice(before)) {
        if (seen.has(f.path)) continue;
        seen.add(f.path);
        out.push(f);
      }
    }
    return;
  }
  for (const key of Object.keys(value)) {
    const childPath = `${path}.${key}`;
    const byPath = plan.byPath.get(childPath);
    const rule: FieldRule = byPath ?? plan.byName.get(key) ?? plan.unknown;
    out.push({ path: childPath, class: rule.dataClass, action: rule.operator.action, rule: byPath ? 'path' : rule === plan.unknown ? 'unknown field' : 'name' });
    if (rule.operator.action === 'kept') listFields((value as Record<string, unknown>)[key], plan, childPath, out, depth + 1);
  }
}

/**
 * What the gateway would do with this request and this upstream body: the same `decide` (with
 * the stores read-only, or offline), then the same response scope and view as a buffered response.
 */
export async function explain(facts: RequestFacts, policy: Policy, stores: DecisionStores, body?: unknown): Promise<Explanation & { result: Decision }> {
  const result = await decide(facts, policy, { ...stores, readOnly: true });
  const assumptions = stores.offline ? OFFLINE_ASSUMPTIONS : [];
  const principal = result.principal ? { subject: result.principal.subject, kind: result.principal.kind, organisation: result.principal.organisation, roles: result.principal.roles, application: result.principal.application } : undefined;
  const base = { route: result.match?.route.config.id, purpose: result.purpose?.config.id ?? result.declaredPurpose, principal, assumptions, result };
  if (!result.allowed) return { ...base, decision: 'deny', reason: result.code, fields: [], view: undefined, scope: undefined };
  const route = result.match.route.config;
  const plan = policy.plans.get(route.id)?.get(result.purpose.config.id);
  const fields: FieldExplanation[] = [];
  let view: unknown;
  let scope: ScopeCounts | undefined;
  if (body !== undefined && plan) {
    const value = structuredClone(body) as unknown;
    const limit = result.purpose.config.bulkLimit;
    let bulk: { released: SubjectSet; budget: BulkBudget } | undefined;
    if (result.scope.countResponseCustomers && limit) {
      const budget = stores.offline
        ? new BulkBudget(new Set(), limit.refuseAt)
        : await loadBulkBudget(stores.db, callerKey(result.principal), result.purpose.config.id, limit.windowSeconds, limit.refuseAt);
      bulk = { released: new SubjectSet(1_000_000), budget };
    }
    const scoper = new ResponseScoper(result.scope, policy.subjectPaths.get(route.id) ?? [], new SubjectSet(policy.config.audit.subjectsCap), bulk);
    scoper.applyToValue(value);
    scope = scoper.counts;
    listFields(value, plan, '$', fields);
    try {
      view = JSON.parse(JSON.stringify(applyView(value, plan, new FieldReport())));
    } catch (err) {
      if (err instanceof TransformError) return { ...base, decision: 'deny', reason: 'CUSTODIAN_TRANSFORM_INVALID_BODY', fields: [], view: undefined, scope };
      throw err;
    }
    if (route.observe) view = body;
  }
  return { ...base, decision: route.observe ? 'observe' : 'allow', reason: 'OK', fields, view, scope };
}
