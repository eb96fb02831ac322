import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditRecord } from '../audit/record.js';
import type { AuditService } from '../audit/service.js';
import { ensureSubjects, maskedTarget } from './request-state.js';
import { errorBody, statusOf } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import { sendError } from './errors.js';

/** The request facts every record of this request shares (all masked, no token, no value). */
function requestFacts(request: FastifyRequest): Omit<AuditRecord, 'v' | 'type' | 'id' | 'time'> {
  const { policy, match, principal, purpose, upstream, subjects } = request.custodian;
  const { path, query } = maskedTarget(request.custodian);
  const socket = request.raw.socket as TLSSocket;
  const protocol = typeof socket.getProtocol === 'function' ? (socket.getProtocol() ?? undefined) : undefined;
  return {
    requestId: request.id,
    caller: principal
      ? { sub: principal.subject, kind: principal.kind, org: principal.organisation, roles: principal.roles }
      : undefined,
    purpose: purpose?.config.id,
    route: match?.route.config.id,
    method: request.method,
    path,
    query,
    upstream: upstream?.name,
    subjects: subjects && policy ? subjects.toRecord(policy.config.masking) : undefined,
    client: { ip: request.ip },
    tls: { version: protocol, certFingerprint: principal?.certificateThumbprint },
  };
}

function record(type: AuditRecord['type'], request: FastifyRequest, extra: Partial<AuditRecord>): AuditRecord {
  return { v: 1, type, id: randomUUID(), time: new Date().toISOString(), ...requestFacts(request), ...extra };
}

/**
 * Stage: the access record. For an allowed request the decision record is appended as soon as the
 * purpose is authorised (in parallel with the upstream call) and the response is held in onSend
 * until it is durable: no byte of customer data leaves unrecorded. Refusals are recorded too.
 * Completion facts (status, bytes, latency, fields, subjects from the response) follow async.
 */
export function registerAudit(app: FastifyInstance, audit: AuditService, metrics?: Metrics) {
  app.addHook('onRequest', async (request, reply) => {
    const { match, purpose, policy, target } = request.custodian;
    if (!match || !purpose || !policy || !target) return undefined;
    if (!audit.canRecord()) {
      request.log.warn({ code: 'CUSTODIAN_AUDIT_UNAVAILABLE', journal: audit.health.journal.lastError }, 'audit journal cannot take records');
      return sendError(reply, 'CUSTODIAN_AUDIT_UNAVAILABLE');
    }
    ensureSubjects(request.custodian);
    const appendedAt = performance.now();
    const durable = audit.recordDecision(
      record('decision', request, {
        decision: match.route.config.observe ? 'observe' : 'allow',
        reason: 'OK',
        detail:
          request.custodian.approval || request.custodian.bulkAlert
            ? {
                approval: request.custodian.approval?.id,
                approver: request.custodian.approval?.approver,
                // Flagged: this request took the caller over the purpose's bulk alert threshold.
                bulkAlert: request.custodian.bulkAlert,
              }
            : undefined,
      }),
    );
    durable.then(() => metrics?.auditDurability.observe((performance.now() - appendedAt) / 1000), () => undefined);
    // Observed in onSend; this catch only keeps an early failure from being "unhandled".
    durable.catch(() => undefined);
    request.custodian.decisionDurable = durable;
    return undefined;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const state = request.custodian;
    if (!state) return payload;
    if (state.decisionDurable && !state.refusal) {
      try {
        await state.decisionDurable;
        return payload;
      } catch {
        // Could not record: release nothing. The upstream may have answered; its body is dropped.
        if (payload && typeof (payload as { destroy?: () => void }).destroy === 'function') (payload as { destroy(): void }).destroy();
        request.log.error({ code: 'CUSTODIAN_AUDIT_UNAVAILABLE' }, 'decision record not durable: response withheld');
        state.refusal = 'CUSTODIAN_AUDIT_UNAVAILABLE';
        for (const name of Object.keys(reply.getHeaders())) if (name !== 'x-request-id' && name !== 'strict-transport-security') reply.removeHeader(name);
        reply.code(statusOf('CUSTODIAN_AUDIT_UNAVAILABLE')).type('application/json; charset=utf-8');
        return JSON.stringify(errorBody('CUSTODIAN_AUDIT_UNAVAILABLE', request.id));
      }
    }
    if (state.refusal && !state.decisionDurable) {
      // A refusal carries no customer data, but it is an access record all the same — including
      // which customer was asked for.
      ensureSubjects(state);
      await audit
        .recordDecision(record('decision', request, { decision: 'deny', reason: state.refusal, status: reply.statusCode }))
        .catch(() => request.log.error({ code: state.refusal }, 'refusal could not be recorded'));
    }
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const state = request.custodian;
    if (!state?.decisionDurable) return;
    const length = Number(reply.getHeader('content-length'));
    audit.recordLater(
      record('completion', request, {
        decision: state.refusal ? 'deny' : state.match?.route.config.observe ? 'observe' : 'allow',
        reason: state.refusal ?? (state.transformFailed ? 'CUSTODIAN_TRANSFORM_INVALID_BODY' : 'OK'),
        status: reply.statusCode,
        bytes: Number.isFinite(length) ? length : state.streamedBytes,
        latencyMs: Math.round(reply.elapsedTime * 100) / 100,
        fields: state.fieldReport?.toJSON(),
        detail:
          state.restrictedDropped || state.bulkAlert || state.consentDropped || state.approval
            ? {
                approval: state.approval?.id,
                approver: state.approval?.approver,
                restrictedItemsDropped: state.restrictedDropped || undefined,
                unconsentedItemsDropped: state.consentDropped || undefined,
                bulkAlert: state.bulkAlert,
              }
            : undefined,
      }),
    );
  });
}
