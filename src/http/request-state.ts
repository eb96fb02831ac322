import type { FieldReport } from '../mask/report.js';
import { type DetectorHits, emptyHits } from '../mask/detectors.js';
import type { SubjectSet } from '../audit/subjects.js';
import type { Decision } from '../pipeline/decision.js';
import type { ErrorCode } from '../errors.js';
import { maskPath, maskQuery } from '../mask/request-side.js';

/**
 * Per request: the decision `decide` returned (set once, never changed) and what the response
 * side learns after it — what masking did, what governance removed, whether the record is
 * durable. Who, what, which route and purpose are read from `decision` and nowhere else.
 */
export interface RequestState {
  /** The outcome of `decide`, set once by the decide stage (undefined: refused before it ran). */
  decision: Decision | undefined;
  /** What masking did to the response (names only), for the audit record. */
  fieldReport: FieldReport | undefined;
  /** What the detectors masked in released response headers (joins the field report). */
  headerDetectorHits: DetectorHits;
  /** A streamed response was cut off because its body could not be masked. */
  transformFailed: boolean;
  /** This request's one decision record has been written (or started, for an allow). */
  decisionRecorded: boolean;
  /** The refusal code sent, if the request was refused (by decide, or after it). */
  refusal: ErrorCode | undefined;
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
  /** Every customer the response released, uncapped, when the purpose has a bulk limit. */
  bulkSubjects: SubjectSet | undefined;
  /** Set when this request crossed the purpose's bulk alert threshold (distinct customers). */
  bulkAlert: number | undefined;
  /** List items removed for want of consent. */
  consentDropped: number;
  /** List items of new customers withheld because the caller's bulk budget was spent. */
  bulkWithheld: number;
  /** The path and query as every log line and record shows them (see maskedTarget). */
  masked: { readonly path: string | undefined; readonly query: string | undefined } | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    custodian: RequestState;
  }
}

export function emptyState(): RequestState {
  return {
    decision: undefined,
    fieldReport: undefined,
    headerDetectorHits: emptyHits(),
    transformFailed: false,
    decisionRecorded: false,
    refusal: undefined,
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
 * log line and both audit records show them).
 */
export function maskedTarget(state: RequestState): { path: string | undefined; query: string | undefined } {
  if (state.masked) return state.masked;
  const decision = state.decision;
  const target = decision?.target;
  if (!decision || !target) return { path: undefined, query: undefined };
  const classification = decision.policy.config.classification;
  const path = maskPath(target.segments, decision.match?.params ?? {}, classification);
  const query = target.rawQuery ? maskQuery(target.rawQuery, classification) : undefined;
  state.masked = { path, query };
  return state.masked;
}

/** Take the decision into the request state, once (the decide stage; nothing else sets it). */
export function adoptDecision(state: RequestState, decision: Decision): void {
  state.decision = decision;
  if (decision.allowed) {
    state.bulkAlert = decision.bulkAlert;
  }
}
