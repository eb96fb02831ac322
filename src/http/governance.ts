import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditService } from '../audit/service.js';
import { consumeApproval, recordDestruction } from '../governance/approvals.js';
import { touchCustomers, windowCount } from '../governance/bulk-guard.js';
import { maskPath } from '../mask/request-side.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Allow } from '../pipeline/decision.js';
import { callerKey } from '../pipeline/decide.js';
import type { Db } from '../store/db.js';
import { recordAllow, refuseRequest } from './decide.js';
import { withheldPayload } from './errors.js';

/**
 * Governance work that needs more than the request head: four-eyes approval consumption (needs
 * the body), counting the customers a list response names (bulk guard), and the destruction ledger.
 */
export function registerGovernance(app: FastifyInstance, deps: { db: Db; audit: AuditService; metrics?: Metrics }) {
  const { db, metrics } = deps;
  // Four-eyes, once the body is in: an approval for exactly this method, path and body, given to
  // this caller by someone else, consumed by one atomic UPDATE before anything is forwarded. The
  // request's one decision record is written after it, so it states the approval (or the refusal).
  const consumeFourEyes = async (request: FastifyRequest, reply: FastifyReply, decision: Allow, id: string) => {
    const { principal, target, policy } = decision;
    let body: Buffer | undefined;
    if (request.body instanceof Readable) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of request.body) {
        size += (chunk as Buffer).length;
        if (size > policy.config.limits.maxBodyBytes) return refuseRequest(request, reply, deps, 'CUSTODIAN_BODY_TOO_LARGE');
        chunks.push(chunk as Buffer);
      }
      body = Buffer.concat(chunks);
      // Forward exactly the bytes that were checked.
      request.body = Readable.from([body]);
    }
    const result = await consumeApproval(db, {
      id,
      method: request.method,
      path: target.rawPath,
      bodySha256: body && body.length > 0 ? createHash('sha256').update(body).digest('hex') : null,
      requester: principal.subject,
      requestId: request.id,
    });
    if (!result.ok) return refuseRequest(request, reply, deps, 'CUSTODIAN_APPROVAL_REQUIRED', `${result.why[0]?.toUpperCase()}${result.why.slice(1)}.`);
    request.custodian.approval = { id, approver: result.approver };
    recordAllow(request, deps, decision, request.custodian.approval);
  };
  // Callback style: most requests have no approval to consume and go on without a promise.
  app.addHook('preHandler', (request, reply, done) => {
    const decision = request.custodian.decision;
    if (!decision?.allowed || decision.approvalToConsume === undefined) return done();
    consumeFourEyes(request, reply, decision, decision.approvalToConsume).then(() => done(), done);
  });

  // Customers named only in the response (lists, exports) count too, every one of them: counted
  // before a buffered response is released (so the caller's next request sees them), and for a
  // streamed export once it has finished.
  const counted = new WeakMap<object, Set<string>>();
  const countedIds = (request: object) => {
    const existing = counted.get(request);
    if (existing) return existing;
    const set = new Set<string>();
    counted.set(request, set);
    return set;
  };
  const countResponseCustomers = async (request: FastifyRequest) => {
    const { bulkSubjects } = request.custodian;
    const { principal, purpose } = request.custodian.decision ?? {};
    const limit = purpose?.config.bulkLimit;
    if (!bulkSubjects || !principal || !purpose || !limit) return;
    const seen = countedIds(request);
    const ids = bulkSubjects.all().filter((id) => !seen.has(id));
    if (ids.length === 0) return;
    for (const id of ids) seen.add(id);
    const caller = callerKey(principal);
    const added = await touchCustomers(db, caller, purpose.config.id, ids, limit.windowSeconds);
    if (!added || limit.alertAt === undefined) return;
    const after = await windowCount(db, caller, purpose.config.id, limit.windowSeconds, []);
    if (after.count - added < limit.alertAt && after.count >= limit.alertAt) {
      request.custodian.bulkAlert = after.count;
      metrics?.bulkAlerts.inc({ purpose: purpose.config.id });
    }
  };
  // Callback style, and synchronous unless there is something to count: a refusal's onSend
  // chain must finish inside send(), so that no stage after a refusal runs.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (!request.custodian?.bulkSubjects || request.custodian.refusal) return done(null, payload);
    countResponseCustomers(request).then(
      () => done(null, payload),
      (err: unknown) => {
        // Fail closed: customers that could not be counted are not released.
        request.log.error({ code: 'CUSTODIAN_INTERNAL', err: err instanceof Error ? err.message : 'unknown' }, 'bulk count failed: response withheld');
        done(null, withheldPayload(reply, payload, 'CUSTODIAN_INTERNAL'));
      },
    );
  });
  app.addHook('onResponse', (request, _reply, done) => {
    if (!request.custodian?.bulkSubjects) return done();
    countResponseCustomers(request)
      .catch(() => request.log.error('bulk count failed'))
      .then(() => done());
  });

  // Each executed (or failed) destruction is a ledger entry: requester, approver, object, outcome.
  app.addHook('onResponse', (request, reply, done) => {
    const { approval } = request.custodian;
    const { principal, target, match, policy } = request.custodian.decision ?? {};
    if (!approval || !principal || !target || !match || !policy) return done();
    recordDestruction(db, {
      approvalId: approval.id,
      requestId: request.id,
      requester: principal.subject,
      approver: approval.approver,
      method: request.method,
      object: maskPath(target.segments, match.params, policy.config.classification),
      status: reply.statusCode,
    })
      .catch((err: unknown) => request.log.error({ err: err instanceof Error ? err.message : String(err) }, 'destruction ledger entry failed'))
      .then(() => done());
  });
}
