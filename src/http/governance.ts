import type { FastifyInstance } from 'fastify';
import { requestSubjects, SubjectSet } from '../audit/subjects.js';
import type { RestrictionCache } from '../governance/restrictions.js';
import { sendError } from './errors.js';

/**
 * Stage: governance checks on the customers a request names (path and query parameters).
 * A customer with an objection or restriction for the declared purpose is refused. Customers
 * named only in the response (lists) are handled by the transform stage, which drops them.
 */
export function registerGovernance(app: FastifyInstance, restrictions: RestrictionCache) {
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
    return undefined;
  });
}
