import { randomUUID } from 'node:crypto';
import type { Db } from '../store/db.js';

/**
 * Four-eyes for destructive operations: an approval names the exact method and path, the person
 * who will execute it (requester) and the person who approved it (approver, never the same),
 * expires, and is consumed by the first request that uses it. Each executed destruction is a
 * ledger entry.
 */
export interface Approval {
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly bodySha256: string | null;
  readonly requester: string;
  readonly approver: string;
  readonly expiresAt: string;
}

export async function createApproval(
  db: Db,
  input: { method: string; path: string; bodySha256?: string; requester: string; approver: string; ttlSeconds: number; reason?: string },
): Promise<Approval> {
  const id = randomUUID();
  const expiresAt = new Date(Date.now() + input.ttlSeconds * 1000).toISOString();
  const bodySha256 = input.bodySha256?.toLowerCase() ?? null;
  await db.query(
    'INSERT INTO approvals (id, method, path, body_sha256, requester, approver, reason, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
    [id, input.method.toUpperCase(), input.path, bodySha256, input.requester, input.approver, input.reason ?? null, expiresAt],
  );
  return { id, method: input.method.toUpperCase(), path: input.path, bodySha256, requester: input.requester, approver: input.approver, expiresAt };
}

/**
 * Consume an approval for this request, atomically: one UPDATE that only matches an unused,
 * unexpired approval for exactly this method, path and requester. Returns the approver, or why
 * not (for the caller's hint; the check itself is the UPDATE).
 */
export async function consumeApproval(
  db: Db,
  input: { id: string; method: string; path: string; bodySha256: string | null; requester: string; requestId: string },
): Promise<{ ok: true; approver: string } | { ok: false; why: string }> {
  // The body must be the approved one: an approval with a digest needs that exact body; one
  // without a digest covers only a request without a body.
  const r = await db.query<{ approver: string }>(
    `UPDATE approvals SET used_at = now(), used_by_request = $5
     WHERE id = $1 AND used_at IS NULL AND expires_at > now() AND method = $2 AND path = $3 AND requester = $4
       AND body_sha256 IS NOT DISTINCT FROM $6
     RETURNING approver`,
    [input.id, input.method, input.path, input.requester, input.requestId, input.bodySha256],
  );
  if (r.rows[0]) return { ok: true, approver: r.rows[0].approver };
  const found = await db.query<{ used_at: unknown; expires_at: string; method: string; path: string; requester: string; body_sha256: string | null }>(
    'SELECT used_at, expires_at, method, path, requester, body_sha256 FROM approvals WHERE id = $1',
    [input.id],
  );
  const a = found.rows[0];
  if (!a) return { ok: false, why: 'no such approval' };
  if (a.used_at) return { ok: false, why: 'the approval was already used' };
  if (new Date(a.expires_at).getTime() <= Date.now()) return { ok: false, why: 'the approval has expired' };
  if (a.requester !== input.requester) return { ok: false, why: 'the approval was given to someone else' };
  if (a.method === input.method && a.path === input.path) return { ok: false, why: 'the request body is not the approved one' };
  return { ok: false, why: 'the approval is for another method or path' };
}

export async function recordDestruction(
  db: Db,
  entry: { approvalId: string; requestId: string; requester: string; approver: string; method: string; object: string; status: number },
): Promise<void> {
  await db.query(
    `INSERT INTO destruction_ledger (id, approval_id, request_id, requester, approver, method, object, status, outcome)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [randomUUID(), entry.approvalId, entry.requestId, entry.requester, entry.approver, entry.method, entry.object, entry.status, entry.status < 300 ? 'executed' : 'failed'],
  );
}

const iso = (t: unknown) => (t === null || t === undefined ? null : new Date(t as string).toISOString());

/** Approvals given, newest first (for officers and auditors; the path is the approved request's). */
export async function listApprovals(db: Db, limit = 500) {
  const { rows } = await db.query<Record<string, unknown>>(
    'SELECT id, method, path, requester, approver, reason, created_at, expires_at, used_at, used_by_request FROM approvals ORDER BY created_at DESC LIMIT $1',
    [limit],
  );
  return rows.map((r) => ({
    id: String(r.id),
    method: String(r.method),
    path: String(r.path),
    requester: String(r.requester),
    approver: String(r.approver),
    reason: (r.reason as string | null) ?? null,
    createdAt: iso(r.created_at),
    expiresAt: iso(r.expires_at),
    usedAt: iso(r.used_at),
    usedByRequest: (r.used_by_request as string | null) ?? null,
  }));
}

/** The destruction ledger, newest first: what was destroyed, by whom, approved by whom. */
export async function listDestructions(db: Db, limit = 500) {
  const { rows } = await db.query<Record<string, unknown>>(
    'SELECT id, approval_id, request_id, requester, approver, method, object, status, outcome, at FROM destruction_ledger ORDER BY at DESC LIMIT $1',
    [limit],
  );
  return rows.map((r) => ({
    id: String(r.id),
    approvalId: String(r.approval_id),
    requestId: String(r.request_id),
    requester: String(r.requester),
    approver: String(r.approver),
    method: String(r.method),
    object: String(r.object),
    status: r.status === null ? null : Number(r.status),
    outcome: String(r.outcome),
    at: iso(r.at),
  }));
}
