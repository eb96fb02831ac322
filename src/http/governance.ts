import type { FastifyInstance } from 'fastify';
import { requestSubjects, SubjectSet } from '../audit/subjects.js';
import type { RestrictionCache } from '../governance/restrictions.js';
import { consumeApproval, recordDestruction } from '../governance/approvals.js';
import { maskPath } from '../mask/request-side.js';
import type { Db } from '../store/db.js';
import { sendError } from './errors.js';
import { rawHeaderValues } from './raw-headers.js';

/**
 * Stage: governance checks on the customers a request names (path and query parameters).
 * A customer with an objection or restriction for the declared purpose is refused. Customers
 * named only in the response (lists) are handled by the transform stage, which drops them.
 */
export function registerGovernance(app: FastifyInstance, restrictions: RestrictionCache, db: Db) {
  app.addHook('onRequest', async (request, reply) => {
    const { match, purpose, policy, target } = request.custodian;
    if (!match || !purpose || !policy || !target) return undefined;
    const subjects = new SubjectSet(policy.config.audit.subjectsCap);
    requestSubjects(match.route.config.subjects, match.params, target.rawQuery, subjects);
    request.custodian.subjects = subjects;
    for (const id of subjects.all()) {
      if (restrictions.restricts(id, purpose.config.id)) {
        request.log.info({ code: 'CUSTODIAN_SUBJECT_RESTRICTED', route: match.route.config.id }, 'subject restricted');
        return sendError(reply, 'CUSTODIAN_SUBJECT_RESTRICTED');
      }
    }
    request.custodian.isRestricted = (id: string) => restrictions.restricts(id, purpose.config.id);

    if (match.route.config.destructive) {
      // Four-eyes: an approval for exactly this method and path, given to this caller by someone else.
      const ids = rawHeaderValues(request.raw, 'x-approval');
      const principal = request.custodian.principal;
      if (ids.length !== 1 || !principal) return sendError(reply, 'CUSTODIAN_APPROVAL_REQUIRED', 'Send the approval id in one X-Approval header.');
      const result = await consumeApproval(db, {
        id: ids[0] as string,
        method: request.method,
        path: target.rawPath,
        requester: principal.subject,
        requestId: request.id,
      });
      if (!result.ok) return sendError(reply, 'CUSTODIAN_APPROVAL_REQUIRED', `${result.why[0]?.toUpperCase()}${result.why.slice(1)}.`);
      request.custodian.approval = { id: ids[0] as string, approver: result.approver };
    }
    return undefined;
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
