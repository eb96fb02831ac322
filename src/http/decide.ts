import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditService } from '../audit/service.js';
import { presentedCertificate } from '../auth/certificate.js';
import type { PresentedCertificate } from '../auth/principal.js';
import { type ErrorCode, statusOf } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Policy, PolicyHolder } from '../policy/compile.js';
import { type DecisionStores, decide } from '../pipeline/decide.js';
import type { Decision } from '../pipeline/decision.js';
import type { RequestFacts } from '../pipeline/facts.js';
import { accessRecord } from './access-record.js';
import { sendError } from './errors.js';
import { rawHeaderValues } from './raw-headers.js';
import { adoptDecision } from './request-state.js';

/** The client certificate, only if the TLS layer verified it against the configured client CA. */
function verifiedCertificate(socket: TLSSocket): PresentedCertificate | undefined {
  if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return undefined;
  return presentedCertificate(socket.getPeerCertificate());
}

/** What `decide` needs from an HTTP request, as plain values. */
function httpFacts(request: FastifyRequest, policy: Policy): RequestFacts {
  const raw = request.raw;
  const declared = Number(raw.headers['content-length'] ?? 0);
  return {
    method: request.method,
    target: raw.url ?? '',
    authorization: rawHeaderValues(raw, 'authorization'),
    declaredPurposes: rawHeaderValues(raw, policy.config.auth.purposeHeader),
    approvals: rawHeaderValues(raw, 'x-approval'),
    declaredBodyBytes: Number.isFinite(declared) ? declared : 0,
    certificate: verifiedCertificate(raw.socket as TLSSocket),
    endUserHeaders: endUserHeaders(raw, policy),
  };
}

/** The values of every header applications use to name their users (usually none arrive). */
function endUserHeaders(raw: FastifyRequest['raw'], policy: Policy): ReadonlyMap<string, readonly string[]> | undefined {
  const names = policy.authenticator.applications.endUserHeaders;
  if (names.length === 0) return undefined;
  return new Map(names.map((name) => [name, rawHeaderValues(raw, name)]));
}

export interface DecideStageDeps {
  readonly policy: PolicyHolder;
  readonly stores: DecisionStores;
  readonly audit: AuditService;
  readonly metrics?: Metrics;
}

/**
 * Refuse: one deny record (written before the answer, like every decision), then the refusal.
 * Returns the reply, which tells fastify the request is finished: with every onSend hook
 * synchronous the response has ended when send() returns, so no later stage runs.
 */
export async function refuseRequest(request: FastifyRequest, reply: FastifyReply, deps: { audit: AuditService }, code: ErrorCode, hint?: string) {
  request.custodian.refusal = code;
  request.custodian.decisionRecorded = true;
  await deps.audit
    .recordDecision(accessRecord('decision', request, { decision: 'deny', reason: code, status: statusOf(code) }))
    .catch(() => request.log.error({ code }, 'refusal could not be recorded'));
  sendError(reply, code, hint);
  return reply;
}

/** Start the allow decision's durable record; the response is held in onSend until it is durable. */
export function recordAllow(request: FastifyRequest, deps: { audit: AuditService; metrics?: Metrics }, decision: Decision, approval?: { id: string; approver: string }) {
  const state = request.custodian;
  const appendedAt = performance.now();
  const bulkAlert = decision.allowed ? decision.bulkAlert : undefined;
  const durable = deps.audit.recordDecision(
    accessRecord('decision', request, {
      decision: decision.match?.route.config.observe ? 'observe' : 'allow',
      reason: 'OK',
      detail: approval || bulkAlert ? { approval: approval?.id, approver: approval?.approver, bulkAlert } : undefined,
    }),
  );
  durable.then(() => deps.metrics?.auditDurability.observe((performance.now() - appendedAt) / 1000), () => undefined);
  // Observed in onSend; this catch only keeps an early failure from being "unhandled".
  durable.catch(() => undefined);
  state.decisionDurable = durable;
  state.decisionRecorded = true;
}

/**
 * The one HTTP stage before the upstream: build the facts, call `decide` once, write one decision
 * record of the outcome, then refuse (and nothing after this runs) or let the proxy forward.
 * Destructive routes record their decision once the approval is consumed (four-eyes stage).
 */
export function registerDecide(app: FastifyInstance, deps: DecideStageDeps) {
  app.addHook('onRequest', async (request, reply) => {
    // Pin the policy for the whole request: a reload mid-request does not change its rules.
    const policy = deps.policy.current;
    const decision = await decide(httpFacts(request, policy), policy, deps.stores);
    adoptDecision(request.custodian, decision);
    if (!decision.allowed) {
      request.log.info({ code: decision.code, route: decision.match?.route.config.id }, 'request refused');
      return refuseRequest(request, reply, deps, decision.code, decision.hint);
    }
    if (!deps.audit.canRecord()) {
      request.log.warn({ code: 'CUSTODIAN_AUDIT_UNAVAILABLE', journal: deps.audit.health.journal.lastError }, 'audit journal cannot take records');
      return refuseRequest(request, reply, deps, 'CUSTODIAN_AUDIT_UNAVAILABLE');
    }
    if (decision.approvalToConsume === undefined) recordAllow(request, deps, decision);
    return undefined;
  });
}
