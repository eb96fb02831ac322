import type { FastifyInstance } from 'fastify';
import type { AuditService } from '../audit/service.js';
import { accessRecord } from './access-record.js';
import { withheldPayload } from './errors.js';

/**
 * Stage: the access record around the response. The decide stage wrote the request's one
 * decision record; here an allowed response is held until that record is durable (no byte of
 * customer data leaves unrecorded), refusals that did not come from `decide` (fastify's own,
 * upstream failures) are recorded, and the completion facts (status, bytes, latency, fields,
 * subjects from the response) follow asynchronously.
 */
export function registerAudit(app: FastifyInstance, audit: AuditService) {
  // Callback style, and synchronous except while an allowed response waits for its record: a
  // refusal's onSend chain must finish inside send(), so that no stage after a refusal runs.
  app.addHook('onSend', (request, reply, payload, done) => {
    const state = request.custodian;
    if (!state) return done(null, payload);
    if (state.decisionDurable && !state.refusal) {
      state.decisionDurable.then(
        () => done(null, payload),
        () => {
          // Could not record: release nothing. The upstream may have answered; its body is dropped.
          request.log.error({ code: 'CUSTODIAN_AUDIT_UNAVAILABLE' }, 'decision record not durable: response withheld');
          done(null, withheldPayload(reply, payload, 'CUSTODIAN_AUDIT_UNAVAILABLE'));
        },
      );
      return;
    }
    if (state.refusal && !state.decisionRecorded) {
      // Refused before `decide` could run (a parse error, an unknown method): a refusal carries no
      // customer data, so it is not held, but it is an access record all the same.
      state.decisionRecorded = true;
      audit
        .recordDecision(accessRecord('decision', request, { decision: 'deny', reason: state.refusal, status: reply.statusCode }))
        .catch(() => request.log.error({ code: state.refusal }, 'refusal could not be recorded'));
    }
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const state = request.custodian;
    if (!state?.decisionDurable) return done();
    const length = Number(reply.getHeader('content-length'));
    audit.recordLater(
      accessRecord('completion', request, {
        decision: state.refusal ? 'deny' : state.decision?.match?.route.config.observe ? 'observe' : 'allow',
        reason: state.refusal ?? (state.transformFailed ? 'CUSTODIAN_TRANSFORM_INVALID_BODY' : 'OK'),
        status: reply.statusCode,
        bytes: Number.isFinite(length) ? length : state.streamedBytes,
        latencyMs: Math.round(reply.elapsedTime * 100) / 100,
        fields: state.fieldReport?.toJSON(),
        detail:
          state.restrictedDropped || state.bulkAlert || state.consentDropped || state.bulkWithheld || state.approval
            ? {
                approval: state.approval?.id,
                approver: state.approval?.approver,
                restrictedItemsDropped: state.restrictedDropped || undefined,
                unconsentedItemsDropped: state.consentDropped || undefined,
                bulkItemsWithheld: state.bulkWithheld || undefined,
                bulkAlert: state.bulkAlert,
              }
            : undefined,
      }),
    );
    done();
  });
}
