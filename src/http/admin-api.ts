import type { FastifyInstance } from 'fastify';
import type { Principal } from '../auth/principal.js';
import type { AuditService } from '../audit/service.js';
import { errorBody, statusOf } from '../errors.js';
import { createApproval } from '../governance/approvals.js';
import { type ConsentCache, recordConsent, withdrawConsent } from '../governance/consents.js';
import { answerObjection, createRestriction, liftRestriction, type RestrictionCache } from '../governance/restrictions.js';
import type { PolicyHolder } from '../policy/compile.js';
import type { Db } from '../store/db.js';
import { adminCaller, adminRecorder } from './admin-caller.js';
import type { ReloadCandidate, ReloadResult } from '../server.js';

export interface AdminApiDeps {
  readonly policy: PolicyHolder;
  readonly db: Db;
  readonly audit: AuditService;
  readonly restrictions: RestrictionCache;
  readonly consents: ConsentCache;
  /** The gateway's reload, for a policy handed over the admin API. */
  readonly reload?: (candidate: ReloadCandidate, actor: Principal) => Promise<ReloadResult>;
  /** The audit checkpoint key (PEM): reports verify the chain's signed checkpoints with its public half. */
  readonly checkpointPem?: string;
}

/**
 * The admin API on the admin plane: the information-protection officer's actions (and the
 * approver's). Every call needs a bearer token from a configured issuer carrying the role; every
 * action is an audit record (who, what, on which customer — never a token). What officers and
 * auditors read is in admin-read-api.ts.
 */
export function registerAdminApi(app: FastifyInstance, deps: AdminApiDeps) {
  const { officer, approver } = adminCaller(deps.policy);

  const record = adminRecorder(deps.audit, deps.policy);

  app.post<{ Body: { customerId?: unknown; kind?: unknown; purposes?: unknown; ticket?: unknown; dueInDays?: unknown } }>('/admin/restrictions', async (request, reply) => {
    const who = await officer(request, reply);
    if (!who) return reply;
    const b = request.body ?? {};
    const purposes = Array.isArray(b.purposes) ? b.purposes.filter((p): p is string => typeof p === 'string') : [];
    const unknown = purposes.filter((p) => !deps.policy.current.purposes.has(p));
    if (typeof b.customerId !== 'string' || b.customerId === '' || (b.kind !== 'objection' && b.kind !== 'restriction') || typeof b.ticket !== 'string' || unknown.length > 0) {
      return reply.code(400).send({ error: 'needs customerId, kind (objection|restriction), ticket, and purposes from the catalogue (empty: all)', unknownPurposes: unknown });
    }
    const created = await createRestriction(deps.db, {
      customerId: b.customerId,
      kind: b.kind,
      purposes,
      ticket: b.ticket,
      createdBy: who.subject,
      dueInDays: typeof b.dueInDays === 'number' ? b.dueInDays : undefined,
    });
    await deps.restrictions.refresh();
    await record(who, `register ${created.kind}`, { restriction: created.id, purposes, ticket: created.ticket, dueAt: created.dueAt }, created.customerId);
    return reply.code(201).send(created);
  });

  app.post<{ Params: { id: string }; Body: { reply?: unknown } }>('/admin/restrictions/:id/answer', async (request, reply) => {
    const who = await officer(request, reply);
    if (!who) return reply;
    if (typeof request.body?.reply !== 'string' || request.body.reply === '') return reply.code(400).send({ error: 'needs reply' });
    const answered = await answerObjection(deps.db, request.params.id, request.body.reply, who.subject);
    if (!answered) return reply.code(404).send({ error: 'no such objection' });
    await deps.restrictions.refresh();
    await record(who, 'answer objection', { restriction: answered.id }, answered.customerId);
    return answered;
  });

  app.post<{ Params: { id: string } }>('/admin/restrictions/:id/lift', async (request, reply) => {
    const who = await officer(request, reply);
    if (!who) return reply;
    const lifted = await liftRestriction(deps.db, request.params.id, who.subject);
    if (!lifted) return reply.code(404).send({ error: 'no such active restriction' });
    await deps.restrictions.refresh();
    await record(who, 'lift restriction', { restriction: lifted.id }, lifted.customerId);
    return lifted;
  });

  app.post<{ Body: { method?: unknown; path?: unknown; bodySha256?: unknown; requester?: unknown; ttlSeconds?: unknown; reason?: unknown } }>('/admin/approvals', async (request, reply) => {
    const who = await approver(request, reply);
    if (!who) return reply;
    const b = request.body ?? {};
    if (typeof b.method !== 'string' || typeof b.path !== 'string' || !b.path.startsWith('/') || typeof b.requester !== 'string' || b.requester === '') {
      return reply.code(400).send({ error: 'needs method, path (exactly as it will be requested) and requester' });
    }
    if (b.bodySha256 !== undefined && (typeof b.bodySha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(b.bodySha256))) {
      return reply.code(400).send({ error: 'bodySha256 must be the hex SHA-256 of the exact request body' });
    }
    if (b.requester === who.subject) return reply.code(400).send({ error: 'an approver cannot approve their own request (four-eyes)' });
    const ttl = typeof b.ttlSeconds === 'number' ? Math.min(Math.max(b.ttlSeconds, 1), 86400) : 900;
    const approval = await createApproval(deps.db, {
      method: b.method,
      path: b.path,
      bodySha256: typeof b.bodySha256 === 'string' ? b.bodySha256 : undefined,
      requester: b.requester,
      approver: who.subject,
      ttlSeconds: ttl,
      reason: typeof b.reason === 'string' ? b.reason : undefined,
    });
    await record(who, 'approve destructive operation', { approval: approval.id, method: approval.method, requester: approval.requester, expiresAt: approval.expiresAt });
    return reply.code(201).send(approval);
  });

  app.post<{ Body: Record<string, unknown> }>('/admin/consents', async (request, reply) => {
    const who = await officer(request, reply);
    if (!who) return reply;
    const b = request.body ?? {};
    const fields = Array.isArray(b.fields) ? b.fields.filter((f): f is string => typeof f === 'string') : [];
    const partner = typeof b.recipient === 'string' ? deps.policy.current.config.partners.get(b.recipient) : undefined;
    const expires = typeof b.expiresAt === 'string' ? new Date(b.expiresAt) : new Date(Number.NaN);
    if (typeof b.customerId !== 'string' || !partner || typeof b.purpose !== 'string' || !partner.purposes.includes(b.purpose) || fields.length === 0 || Number.isNaN(expires.getTime()) || typeof b.evidence !== 'string' || b.evidence === '') {
      return reply.code(400).send({ error: 'needs customerId, recipient (a registered partner), purpose (in its contract), fields, expiresAt and evidence' });
    }
    const consent = await recordConsent(deps.db, {
      customerId: b.customerId,
      recipient: partner.id,
      purpose: b.purpose,
      fields,
      expiresAt: expires.toISOString(),
      evidence: b.evidence,
      recordedBy: who.subject,
    });
    await deps.consents.refresh();
    await record(who, 'record consent', { consent: consent.id, recipient: consent.recipient, purpose: consent.purpose, fields, expiresAt: consent.expiresAt }, consent.customerId);
    return reply.code(201).send(consent);
  });

  app.post<{ Params: { id: string } }>('/admin/consents/:id/withdraw', async (request, reply) => {
    const who = await officer(request, reply);
    if (!who) return reply;
    const withdrawn = await withdrawConsent(deps.db, request.params.id);
    if (!withdrawn) return reply.code(404).send({ error: 'no such live consent' });
    await deps.consents.refresh();
    await record(who, 'withdraw consent', { consent: withdrawn.id, recipient: withdrawn.recipient }, withdrawn.customerId);
    return withdrawn;
  });

  // Reload through the admin API: the officer hands over the policy text and its signature lines;
  // it passes the same gate as a SIGHUP (signatures, policy tests, four-eyes) and the answer is
  // its impact on what people see. Admitted, it is written to the policy file and serves.
  app.post<{ Body: { policy?: unknown; signatures?: unknown } }>('/admin/policy', async (request, reply) => {
    const who = await officer(request, reply);
    if (!who) return reply;
    const { policy, signatures } = request.body ?? {};
    const lines = typeof signatures === 'string' ? [signatures] : Array.isArray(signatures) ? signatures : signatures === undefined ? [] : undefined;
    if (typeof policy !== 'string' || policy.length === 0 || !lines || !lines.every((l) => typeof l === 'string')) {
      return reply.code(400).send({ error: 'expected { policy: "<the policy file text>", signatures: ["<JWS>", ...] }' });
    }
    if (!deps.reload) return reply.code(503).send({ error: 'this admin plane cannot reload the policy' });
    const result = await deps.reload({ text: policy, signatureText: lines.length > 0 ? `${lines.join('\n')}\n` : undefined, actor: who.subject }, who);
    if (result.ok) return { version: result.version, impact: result.impact };
    return reply
      .code(statusOf('CUSTODIAN_POLICY_REFUSED'))
      .type('application/json; charset=utf-8')
      .send({ ...errorBody('CUSTODIAN_POLICY_REFUSED', request.id), errors: result.errors, impact: result.impact });
  });

}
