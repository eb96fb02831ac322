import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { SubjectSet } from '../audit/subjects.js';
import { ensureSubjects } from './request-state.js';
import type { RestrictionCache } from '../governance/restrictions.js';
import { consumeApproval, recordDestruction } from '../governance/approvals.js';
import { maskPath } from '../mask/request-side.js';
import type { Db } from '../store/db.js';
import { touchCustomers, windowCount } from '../governance/bulk-guard.js';
import type { ConsentCache } from '../governance/consents.js';
import { checkPartner } from '../governance/partner-scope.js';
import type { Principal } from '../auth/principal.js';
import type { Metrics } from '../metrics/metrics.js';
import { sendError } from './errors.js';

/** One caller, across replicas: kind, organisation and subject. */
function callerKey(p: Principal): string {
  return `${p.kind}:${p.organisation ?? ''}:${p.subject}`;
}
import { rawHeaderValues } from './raw-headers.js';

/**
 * Stage: governance checks on the customers a request names (path and query parameters).
 * A customer with an objection or restriction for the declared purpose is refused. Customers
 * named only in the response (lists) are handled by the transform stage, which drops them.
 */
export function registerGovernance(app: FastifyInstance, restrictions: RestrictionCache, db: Db, consents: ConsentCache, metrics?: Metrics) {
  app.addHook('onRequest', async (request, reply) => {
    const { match, purpose, policy, target } = request.custodian;
    if (!match || !purpose || !policy || !target) return undefined;
    const subjects = ensureSubjects(request.custodian) as SubjectSet;
    for (const id of subjects.all()) {
      if (restrictions.restricts(id, purpose.config.id)) {
        request.log.info({ code: 'CUSTODIAN_SUBJECT_RESTRICTED', route: match.route.config.id }, 'subject restricted');
        return sendError(reply, 'CUSTODIAN_SUBJECT_RESTRICTED');
      }
    }
    request.custodian.isRestricted = (id: string) => restrictions.restricts(id, purpose.config.id);

    const principal = request.custodian.principal;
    if (principal?.kind === 'partner') {
      // Sharing with a third party: a contract in the registry, and each customer's live consent.
      const check = checkPartner(principal, purpose.config.id, policy.config.partners, consents, policy.now() / 1000);
      if (!check.ok) return sendError(reply, check.code, check.hint);
      if (match.route.config.subjects.length === 0) {
        // Without knowing whose data this is, consent cannot be checked: fail closed.
        return sendError(reply, 'CUSTODIAN_CONSENT_REQUIRED', 'This route does not identify the customer, so it is not open to partners.');
      }
      const ids = subjects.all();
      for (const id of ids) if (!check.scopeFor(id)) return sendError(reply, 'CUSTODIAN_CONSENT_REQUIRED');
      request.custodian.partnerScope = check.scopeFor;
      if (ids.length === 1) request.custodian.partnerRecordScope = check.scopeFor(ids[0] as string);
    }

    const limit = purpose.config.bulkLimit;
    if (limit && principal) {
      // Bulk-access guard: distinct customers this caller touched for this purpose in the window.
      const caller = callerKey(principal);
      const ids = subjects.all();
      const { count, alreadySeen } = await windowCount(db, caller, purpose.config.id, limit.windowSeconds, ids);
      const fresh = ids.filter((id) => !alreadySeen.has(id));
      const namesOnlyInResponse = match.route.config.subjects.some((s) => 'jsonPath' in s);
      if (count + fresh.length > limit.refuseAt || (count >= limit.refuseAt && namesOnlyInResponse)) {
        return sendError(reply, 'CUSTODIAN_BULK_LIMIT');
      }
      await touchCustomers(db, caller, purpose.config.id, ids, limit.windowSeconds);
      const after = count + fresh.length;
      if (limit.alertAt !== undefined && count < limit.alertAt && after >= limit.alertAt) {
        request.custodian.bulkAlert = after;
        metrics?.bulkAlerts.inc({ purpose: purpose.config.id });
      }
      if (namesOnlyInResponse) request.custodian.bulkSubjects = new SubjectSet(1_000_000);
    }

    if (match.route.config.destructive && rawHeaderValues(request.raw, 'x-approval').length !== 1) {
      return sendError(reply, 'CUSTODIAN_APPROVAL_REQUIRED', 'Send the approval id in one X-Approval header.');
    }
    return undefined;
  });

  // Four-eyes, once the body is in: an approval for exactly this method, path and body, given to
  // this caller by someone else, consumed by one atomic UPDATE before anything is forwarded.
  app.addHook('preHandler', async (request, reply) => {
    const { match, principal, target, policy } = request.custodian;
    if (!match?.route.config.destructive || !principal || !target || !policy) return undefined;
    const id = rawHeaderValues(request.raw, 'x-approval')[0] as string;
    let body: Buffer | undefined;
    if (request.body instanceof Readable) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of request.body) {
        size += (chunk as Buffer).length;
        if (size > policy.config.limits.maxBodyBytes) return sendError(reply, 'CUSTODIAN_BODY_TOO_LARGE');
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
    if (!result.ok) return sendError(reply, 'CUSTODIAN_APPROVAL_REQUIRED', `${result.why[0]?.toUpperCase()}${result.why.slice(1)}.`);
    request.custodian.approval = { id, approver: result.approver };
    return undefined;
  });

  // Customers named only in the response (lists, exports) count too, every one of them: counted
  // before a buffered response is released (so the caller's next request sees them), and for a
  // streamed export once it has finished.
  const countResponseCustomers = async (request: import('fastify').FastifyRequest) => {
    const { bulkSubjects, principal, purpose } = request.custodian;
    const limit = purpose?.config.bulkLimit;
    if (!bulkSubjects || !principal || !purpose || !limit) return;
    const ids = bulkSubjects.all().filter((id) => !countedIds(request).has(id));
    if (ids.length === 0) return;
    for (const id of ids) countedIds(request).add(id);
    const caller = callerKey(principal);
    const added = await touchCustomers(db, caller, purpose.config.id, ids, limit.windowSeconds);
    if (!added || limit.alertAt === undefined) return;
    const after = await windowCount(db, caller, purpose.config.id, limit.windowSeconds, []);
    const before = { count: after.count - added };
    if (before.count < limit.alertAt && after.count >= limit.alertAt) {
      request.custodian.bulkAlert = after.count;
      metrics?.bulkAlerts.inc({ purpose: purpose.config.id });
    }
  };
  const counted = new WeakMap<object, Set<string>>();
  const countedIds = (request: object) => {
    const existing = counted.get(request);
    if (existing) return existing;
    const set = new Set<string>();
    counted.set(request, set);
    return set;
  };
  app.addHook('onSend', async (request, _reply, payload) => {
    await countResponseCustomers(request);
    return payload;
  });
  app.addHook('onResponse', async (request) => {
    await countResponseCustomers(request);
  });

  // Each executed (or failed) destruction is a ledger entry: requester, approver, object, outcome.
  app.addHook('onResponse', async (request, reply) => {
    const { approval, principal, target, match, policy } = request.custodian;
    if (!approval || !principal || !target || !match || !policy) return;
    await recordDestruction(db, {
      approvalId: approval.id,
      requestId: request.id,
      requester: principal.subject,
      approver: approval.approver,
      method: request.method,
      object: maskPath(target.segments, match.params, policy.config.classification),
      status: reply.statusCode,
    }).catch((err: unknown) => request.log.error({ err: err instanceof Error ? err.message : String(err) }, 'destruction ledger entry failed'));
  });
}
