import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditService } from '../audit/service.js';
import { recordedSubjectId } from '../audit/subjects.js';
import type { Principal } from '../auth/principal.js';
import { errorBody, statusOf } from '../errors.js';
import type { PolicyHolder } from '../policy/compile.js';
import { rawHeaderValues } from './raw-headers.js';

function refuse(reply: FastifyReply, code: 'CUSTODIAN_AUTH_MISSING' | 'CUSTODIAN_AUTH_INVALID' | 'CUSTODIAN_AUTH_EXPIRED' | 'CUSTODIAN_ADMIN_FORBIDDEN', hint?: string) {
  return reply
    .code(statusOf(code))
    .type('application/json; charset=utf-8')
    .send(errorBody(code, reply.request.id, hint));
}

/**
 * Who calls the admin plane: a bearer token from a configured issuer whose roles include one the
 * action allows — officers change governance records, approvers approve destruction, auditors
 * read everything and change nothing. Anything else is refused before the handler runs.
 */
export function adminCaller(policy: PolicyHolder) {
  const withRole = async (request: FastifyRequest, reply: FastifyReply, roles: readonly string[]): Promise<Principal | undefined> => {
    const result = await policy.current.authenticator.authenticate({
      authorization: rawHeaderValues(request.raw, 'authorization'),
      rawQuery: '',
      certificate: undefined,
    });
    if (!result.ok) {
      const code = result.code === 'CUSTODIAN_AUTH_MISSING' || result.code === 'CUSTODIAN_AUTH_INVALID' || result.code === 'CUSTODIAN_AUTH_EXPIRED' ? result.code : 'CUSTODIAN_ADMIN_FORBIDDEN';
      refuse(reply, code, result.hint);
      return undefined;
    }
    // The admin plane is for people: an application (clients) never acts on it, whatever its roles.
    if (result.principal.application || !result.principal.roles.some((r) => roles.includes(r))) {
      refuse(reply, 'CUSTODIAN_ADMIN_FORBIDDEN');
      return undefined;
    }
    return result.principal;
  };
  const admin = () => policy.current.config.admin;
  return {
    officer: (request: FastifyRequest, reply: FastifyReply) => withRole(request, reply, admin().officerRoles),
    approver: (request: FastifyRequest, reply: FastifyReply) => withRole(request, reply, admin().approverRoles),
    /** Officers and auditors: every list and report, no change. */
    reader: (request: FastifyRequest, reply: FastifyReply) => withRole(request, reply, [...admin().officerRoles, ...admin().auditorRoles]),
  };
}

/** An admin action (or a read of personal records) as an audit record: who, what, on which customer. */
export function adminRecorder(audit: AuditService, policy: PolicyHolder) {
  return (who: Principal, action: string, detail: Record<string, unknown>, customerId?: string) =>
    audit.recordDecision({
      v: 1,
      type: 'admin',
      id: randomUUID(),
      time: new Date().toISOString(),
      caller: { sub: who.subject, kind: who.kind, org: who.organisation, roles: who.roles },
      // An id that is itself an identifier (an ID number as key) is never written in clear.
      subjects: customerId ? { ids: [recordedSubjectId(customerId, policy.current.config.masking)], count: 1 } : undefined,
      detail: { action, ...detail },
    });
}
