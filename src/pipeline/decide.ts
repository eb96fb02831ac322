import { SubjectSet, requestSubjects } from '../audit/subjects.js';
import { attributeEndUser } from '../auth/end-user.js';
import type { Principal } from '../auth/principal.js';
import { touchCustomers, windowCount } from '../governance/bulk-guard.js';
import type { ConsentCache } from '../governance/consents.js';
import { checkPartner, ownUseScope, type ScopeFor } from '../governance/partner-scope.js';
import type { RestrictionCache } from '../governance/restrictions.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Policy } from '../policy/compile.js';
import { applicationPurpose } from '../policy/application-purpose.js';
import { authorizePurpose, declaredPurposeOf } from '../policy/purposes.js';
import { parseRequestTarget } from '../policy/request-target.js';
import type { Db } from '../store/db.js';
import type { Allow, DecisionContext, Decision, Deny } from './decision.js';
import type { RequestFacts } from './facts.js';

/** The stores governance reads (and, for the bulk guard, writes). Every one is required. */
export interface DecisionStores {
  readonly restrictions: RestrictionCache;
  readonly consents: ConsentCache;
  readonly db: Db;
  readonly metrics?: Metrics;
  /** `custodian explain`: count nothing, change nothing. */
  readonly readOnly?: boolean;
  /** `custodian explain --offline` and policy tests: no store is read (see OFFLINE_ASSUMPTIONS). */
  readonly offline?: boolean;
}

/** One caller, across replicas: kind, organisation and subject. */
export function callerKey(p: Principal): string {
  return `${p.kind}:${p.organisation ?? ''}:${p.subject}`;
}

const NO_HEADERS: ReadonlyMap<string, readonly string[]> = new Map();

/**
 * What `decide` has learned so far, filled in as it goes. One object of one shape, every key
 * present from the start: copying the context into a new object at each step (a spread per
 * step) cost more than the whole route match and purpose check together in the running gateway.
 */
type Known = { -readonly [K in keyof DecisionContext]: DecisionContext[K] };

function known(policy: Policy, declaredPurpose: string | undefined): Known {
  return { policy, declaredPurpose, target: undefined, match: undefined, upstream: undefined, principal: undefined, purpose: undefined, subjects: undefined };
}

function deny(k: Known, code: Deny['code'], hint?: string): Deny {
  return Object.freeze({
    policy: k.policy,
    declaredPurpose: k.declaredPurpose,
    target: k.target,
    match: k.match,
    upstream: k.upstream,
    principal: k.principal,
    purpose: k.purpose,
    subjects: k.subjects,
    allowed: false as const,
    code,
    hint,
  });
}

/**
 * The one place a request's fate is decided, for every front end: path checks → authentication
 * → route (exactly one) → purpose → governance (restrictions, partner contract and consent, bulk
 * pre-check, four-eyes presence). Returns an immutable Allow or Deny; it never sends anything.
 * `policy` is the policy pinned for this request (a reload mid-request does not change it).
 */
export async function decide(facts: RequestFacts, policy: Policy, stores: DecisionStores): Promise<Decision> {
  const context = known(policy, declaredPurposeOf(facts.declaredPurposes));
  const limits = policy.config.limits;
  const parsed = parseRequestTarget(facts.target, limits.maxPathLength);
  if (!parsed.ok) return deny(context, 'CUSTODIAN_PATH_INVALID');
  const target = parsed.target;
  context.target = target;
  if (facts.declaredBodyBytes > limits.maxBodyBytes) return deny(context, 'CUSTODIAN_BODY_TOO_LARGE');

  // Who is calling, before anything else is revealed (even whether a route exists).
  const auth = await policy.authenticator.authenticate({
    authorization: facts.authorization,
    rawQuery: target.rawQuery,
    certificate: facts.certificate,
  });
  if (!auth.ok) return deny(context, auth.code, auth.hint);
  // Through an application: the person acting through it, as the application names them.
  const attributed = await attributeEndUser(auth.principal, facts.endUserHeaders ?? NO_HEADERS, policy.authenticator, policy.config.auth.maxTokenBytes);
  if (!attributed.ok) {
    context.principal = auth.principal;
    return deny(context, attributed.code, attributed.hint);
  }
  const principal = attributed.principal;
  context.principal = principal;

  const match = policy.routes.match(facts.method, target.segments);
  if (!match) return deny(context, 'CUSTODIAN_ROUTE_NOT_FOUND');
  const subjects = new SubjectSet(policy.config.audit.subjectsCap);
  requestSubjects(match.route.config.subjects, match.params, target.rawQuery, subjects);
  context.match = match;
  context.subjects = subjects;
  const upstream = policy.upstreams.get(match.route.config.upstream);
  if (!upstream) return deny(context, 'CUSTODIAN_INTERNAL');
  context.upstream = upstream;

  const application = principal.application ? policy.authenticator.applications.byId(principal.application.id) : undefined;
  const declared = application ? applicationPurpose(application, match.route.config.id, facts.declaredPurposes) : { ok: true as const, declared: facts.declaredPurposes };
  if (!declared.ok) return deny(context, declared.code, declared.hint);
  // What the application declared for the request is what a refusal records as its purpose.
  if (application) context.declaredPurpose = declaredPurposeOf(declared.declared);
  const authorized = authorizePurpose(
    declared.declared,
    principal,
    policy.routePurposes.get(match.route.config.id) ?? new Set(),
    policy.purposes,
    policy.now() / 1000,
  );
  if (!authorized.ok) return deny(context, authorized.code, authorized.hint);
  const purpose = authorized.purpose;
  const purposeId = purpose.config.id;
  context.purpose = purpose;

  // Governance: the customers the request names.
  const ids = subjects.all();
  for (const id of ids) if (stores.restrictions.restricts(id, purposeId)) return deny(context, 'CUSTODIAN_SUBJECT_RESTRICTED');

  let partnerScope: ScopeFor | undefined;
  let partnerRecordScope: ReadonlySet<string> | undefined;
  if (principal.kind === 'partner') {
    // Sharing with a third party: a contract in the registry, and each customer's live consent.
    const check = checkPartner(principal, purposeId, policy.config.partners, stores.consents, policy.now() / 1000);
    if (!check.ok) return deny(context, check.code, check.hint);
    if (match.route.config.subjects.length === 0) {
      // Without knowing whose data this is, consent cannot be checked: fail closed.
      return deny(context, 'CUSTODIAN_CONSENT_REQUIRED', 'This route does not identify the customer, so it is not open to partners.');
    }
    for (const id of ids) if (!check.scopeFor(id)) return deny(context, 'CUSTODIAN_CONSENT_REQUIRED');
    partnerScope = check.scopeFor;
    if (ids.length === 1) partnerRecordScope = check.scopeFor(ids[0] as string);
  } else if (purpose.config.lawfulBasis === 'consent') {
    // The company's own use on the basis of consent: each customer's live consent, as for partners.
    if (match.route.config.subjects.length === 0) {
      return deny(context, 'CUSTODIAN_CONSENT_REQUIRED', 'This route does not identify the customer, so a consent-based purpose cannot use it.');
    }
    const scopeFor = ownUseScope(purposeId, stores.consents, policy.now() / 1000);
    for (const id of ids) if (!scopeFor(id)) return deny(context, 'CUSTODIAN_CONSENT_REQUIRED');
    partnerScope = scopeFor;
    if (ids.length === 1) partnerRecordScope = scopeFor(ids[0] as string);
  }

  const destructive = match.route.config.destructive;
  if (destructive && facts.approvals.length !== 1) {
    return deny(context, 'CUSTODIAN_APPROVAL_REQUIRED', 'Send the approval id in one X-Approval header.');
  }

  let bulkAlert: number | undefined;
  let bulkCount: number | undefined;
  const limit = purpose.config.bulkLimit;
  const namesOnlyInResponse = match.route.config.subjects.some((s) => 'jsonPath' in s);
  if (limit) {
    // Bulk-access guard: distinct customers this caller touched for this purpose in the window.
    const caller = callerKey(principal);
    const { count, alreadySeen } = stores.offline ? { count: 0, alreadySeen: new Set<string>() } : await windowCount(stores.db, caller, purposeId, limit.windowSeconds, ids);
    const fresh = ids.filter((id) => !alreadySeen.has(id));
    if (count + fresh.length > limit.refuseAt || (count >= limit.refuseAt && namesOnlyInResponse)) {
      return deny(context, 'CUSTODIAN_BULK_LIMIT');
    }
    if (!stores.readOnly) await touchCustomers(stores.db, caller, purposeId, ids, limit.windowSeconds);
    const after = count + fresh.length;
    bulkCount = after;
    if (limit.alertAt !== undefined && count < limit.alertAt && after >= limit.alertAt) {
      bulkAlert = after;
      if (!stores.readOnly) stores.metrics?.bulkAlerts.inc({ purpose: purposeId });
    }
  }

  const allow: Allow = {
    policy,
    declaredPurpose: context.declaredPurpose,
    allowed: true,
    target,
    match,
    upstream,
    principal,
    purpose,
    subjects,
    scope: Object.freeze({
      isRestricted: (id: string) => stores.restrictions.restricts(id, purposeId),
      partnerScope,
      partnerRecordScope,
      countResponseCustomers: limit !== undefined && namesOnlyInResponse,
    }),
    bulkAlert,
    bulkCount,
    approvalToConsume: destructive ? facts.approvals[0] : undefined,
  };
  return Object.freeze(allow);
}
