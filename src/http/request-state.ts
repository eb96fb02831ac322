import type { Principal } from '../auth/principal.js';
import type { UpstreamConfig } from '../config/types.js';
import type { Policy } from '../policy/compile.js';
import type { CompiledPurpose } from '../policy/purposes.js';
import type { FieldReport } from '../mask/report.js';
import { type DetectorHits, emptyHits } from '../mask/detectors.js';
import { SubjectSet } from '../audit/subjects.js';
import type { Decision } from '../pipeline/decision.js';
import type { ErrorCode } from '../errors.js';
import type { RequestTarget } from '../policy/request-target.js';
import type { RouteMatch } from '../policy/routes.js';
import { maskPath, maskQuery } from '../mask/request-side.js';

/**
 * What the pipeline has learned about a request so far. Each stage fills in its part; later
 * stages read it. Kept on the request object so stages stay independent plugins.
 */
export interface RequestState {
  /** The policy this request started under; a reload does not change it mid-request. */
  policy: Policy | undefined;
  target: RequestTarget | undefined;
  match: RouteMatch | undefined;
  upstream: UpstreamConfig | undefined;
  principal: Principal | undefined;
  purpose: CompiledPurpose | undefined;
  /** What masking did to the response (names only), for the audit record. */
  fieldReport: FieldReport | undefined;
  /** What the detectors masked in released response headers (joins the field report). */
  headerDetectorHits: DetectorHits;
  /** A streamed response was cut off because its body could not be masked. */
  transformFailed: boolean;
  /** The outcome of `decide`, set once by the decide stage; the fields below mirror it. */
  decision: Decision | undefined;
  /** The purpose the caller declared (a well-formed id), recorded even when refused. */
  declaredPurpose: string | undefined;
  /** This request's one decision record has been written (or started, for an allow). */
  decisionRecorded: boolean;
  /** The refusal code sent, if the request was refused. */
  refusal: ErrorCode | undefined;
  /** Customer ids touched (request parameters, then the response). */
  subjects: SubjectSet | undefined;
  /** Resolves once the allow decision is durable; rejects if it cannot be recorded. */
  decisionDurable: Promise<void> | undefined;
  /** Bytes of a streamed, transformed body (buffered bodies have a Content-Length). */
  streamedBytes: number | undefined;
  /** performance.now() when the request was handed to the upstream, and when it answered. */
  upstreamStartedAt: number | undefined;
  upstreamRespondedAt: number | undefined;
  /** List items removed because their customer is restricted. */
  restrictedDropped: number;
  /** The four-eyes approval this (destructive) request consumed. */
  approval: { id: string; approver: string } | undefined;
  /** Every customer id of the response, uncapped, when the purpose has a bulk limit. */
  bulkSubjects: SubjectSet | undefined;
  /** Set when this request crossed the purpose's bulk alert threshold (distinct customers). */
  bulkAlert: number | undefined;
  /** List items removed for want of consent. */
  consentDropped: number;
  /** List items of new customers withheld because the caller's bulk budget was spent. */
  bulkWithheld: number;
  /** The path and query as every log line and record shows them (see maskedTarget). */
  masked: { readonly forMatch: RouteMatch | undefined; readonly path: string | undefined; readonly query: string | undefined } | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    custodian: RequestState;
  }
}

export function emptyState(): RequestState {
  return {
    policy: undefined,
    target: undefined,
    match: undefined,
    upstream: undefined,
    principal: undefined,
    purpose: undefined,
    fieldReport: undefined,
    headerDetectorHits: emptyHits(),
    transformFailed: false,
    decision: undefined,
    declaredPurpose: undefined,
    decisionRecorded: false,
    refusal: undefined,
    subjects: undefined,
    decisionDurable: undefined,
    streamedBytes: undefined,
    upstreamStartedAt: undefined,
    upstreamRespondedAt: undefined,
    restrictedDropped: 0,
    approval: undefined,
    bulkSubjects: undefined,
    bulkAlert: undefined,
    consentDropped: 0,
    bulkWithheld: 0,
    masked: undefined,
  };
}

/**
 * The request's path and query with classified values masked, computed once per request (the
 * log line and both audit records show them) — again only if the route match changed since.
 */
export function maskedTarget(state: RequestState): { path: string | undefined; query: string | undefined } {
  const { policy, target, match } = state;
  if (state.masked && state.masked.forMatch === match) return state.masked;
  const classification = policy?.config.classification;
  const path = target && classification ? maskPath(target.segments, match?.params ?? {}, classification) : undefined;
  const query = target && classification && target.rawQuery ? maskQuery(target.rawQuery, classification) : undefined;
  state.masked = { forMatch: match, path, query };
  return state.masked;
}

/**
 * Take the decision's values into the request state, once, for the stages after the upstream
 * (transform, completion record, metrics, log line). Nothing else writes these fields.
 */
export function adoptDecision(state: RequestState, decision: Decision): void {
  state.decision = decision;
  state.policy = decision.policy;
  state.target = decision.target;
  state.match = decision.match;
  state.upstream = decision.upstream;
  state.principal = decision.principal;
  state.purpose = decision.purpose;
  state.declaredPurpose = decision.declaredPurpose;
  state.subjects = decision.subjects;
  if (decision.allowed) {
    state.bulkAlert = decision.bulkAlert;
    // Every customer of the response, uncapped, for the bulk guard's count.
    if (decision.scope.countResponseCustomers) state.bulkSubjects = new SubjectSet(1_000_000);
  }
}
