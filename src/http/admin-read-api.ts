import type { FastifyInstance, FastifyReply } from 'fastify';
import { checkpointKeyFromPem } from '../audit/checkpoint.js';
import { listApprovals, listDestructions } from '../governance/approvals.js';
import { listConsents } from '../governance/consents.js';
import { listRestrictions } from '../governance/restrictions.js';
import { inspectionReport } from '../report/inspection.js';
import { CONTENT_TYPES, isReportFormat, renderReport } from '../report/render.js';
import { isUtcOffset, reportPeriod } from '../report/queries.js';
import { subjectReport } from '../report/subject.js';
import { subjectHistory } from '../store/audit-store.js';
import { listPolicyVersions } from '../store/policy-versions.js';
import type { AdminApiDeps } from './admin-api.js';
import { adminCaller, adminRecorder } from './admin-caller.js';

/** from/to as dates; by default the last `days` days (up to a minute ahead, for clocks apart). */
function period(query: { from?: string; to?: string }, days: number): { from: Date; to: Date } | undefined {
  const p = reportPeriod(query.from, query.to, days, new Date(Date.now() + 60_000));
  return typeof p === 'string' ? undefined : p;
}

const badPeriod = (reply: FastifyReply) => reply.code(400).send({ error: 'from/to must be dates, from before to' });

/**
 * What the people the policy names read on the admin plane, without SQL: governance records
 * (restrictions and objections, consents, approvals, the destruction ledger, partners, policy
 * versions), a customer's access history, and the inspection and customer reports as HTML (or
 * md/csv/json). Officers and auditors read all of it; nothing here changes anything. Reading a
 * customer's history or report is itself an audit record.
 */
export function registerAdminReadApi(app: FastifyInstance, deps: AdminApiDeps) {
  const { reader } = adminCaller(deps.policy);
  const record = adminRecorder(deps.audit, deps.policy);
  const list = <T>(path: string, read: (query: Record<string, string | undefined>) => Promise<T>) =>
    app.get<{ Querystring: Record<string, string | undefined> }>(path, async (request, reply) => {
      if (!(await reader(request, reply))) return reply;
      return read(request.query);
    });

  list('/admin/restrictions', async (q) => ({ restrictions: await listRestrictions(deps.db, q.customerId) }));
  list('/admin/consents', async (q) => ({ consents: await listConsents(deps.db, q.customerId) }));
  list('/admin/approvals', async () => ({ approvals: await listApprovals(deps.db) }));
  list('/admin/destructions', async () => ({ destructions: await listDestructions(deps.db) }));
  list('/admin/policy/versions', async () => ({ versions: await listPolicyVersions(deps.db) }));
  list('/admin/partners', async () => ({
    partners: [...deps.policy.current.config.partners.values()].map((p) => ({
      ...p,
      validFrom: new Date(p.validFrom * 1000).toISOString(),
      validUntil: new Date(p.validUntil * 1000).toISOString(),
      ndaExpiresAt: p.ndaExpiresAt === undefined ? undefined : new Date(p.ndaExpiresAt * 1000).toISOString(),
      securityReview: { ...p.securityReview, expiresAt: new Date(p.securityReview.expiresAt * 1000).toISOString() },
    })),
  }));

  app.get<{ Params: { id: string }; Querystring: { from?: string; to?: string } }>('/audit/subjects/:id', async (request, reply) => {
    const who = await reader(request, reply);
    if (!who) return reply;
    const p = period(request.query, 365);
    if (!p) return badPeriod(reply);
    await record(who, 'read access history', { from: p.from.toISOString(), to: p.to.toISOString() }, request.params.id);
    return { subject: request.params.id, from: p.from.toISOString(), to: p.to.toISOString(), accesses: await subjectHistory(deps.db, request.params.id, p.from, p.to, deps.policy.current.config.masking) };
  });

  app.get<{ Querystring: { from?: string; to?: string; format?: string; utcOffset?: string } }>('/reports/inspection', async (request, reply) => {
    const who = await reader(request, reply);
    if (!who) return reply;
    const p = period(request.query, 30);
    const format = request.query.format ?? 'html';
    const utcOffset = request.query.utcOffset ?? '+08:00';
    if (!p || !isReportFormat(format) || !isUtcOffset(utcOffset)) return reply.code(400).send({ error: 'from/to dates, format html|md|csv|json, utcOffset like +08:00' });
    await record(who, 'read inspection report', { from: p.from.toISOString(), to: p.to.toISOString() });
    const checkpointKey = deps.checkpointPem ? checkpointKeyFromPem(deps.checkpointPem).publicKey : undefined;
    const report = await inspectionReport(deps.db, deps.policy.current.config, { ...p, utcOffset }, { checkpointKey });
    return reply.type(CONTENT_TYPES[format]).send(renderReport(report, format));
  });

  app.get<{ Params: { id: string }; Querystring: { from?: string; to?: string; format?: string } }>('/reports/subjects/:id', async (request, reply) => {
    const who = await reader(request, reply);
    if (!who) return reply;
    const p = period(request.query, 3 * 365);
    const format = request.query.format ?? 'html';
    if (!p || !isReportFormat(format)) return reply.code(400).send({ error: 'from/to dates, format html|md|csv|json' });
    await record(who, 'read customer report', { from: p.from.toISOString(), to: p.to.toISOString() }, request.params.id);
    const report = await subjectReport(deps.db, deps.policy.current.config, request.params.id, p);
    return reply.type(CONTENT_TYPES[format]).send(renderReport(report, format));
  });
}
