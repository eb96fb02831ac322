import { randomUUID } from 'node:crypto';
import type { Db } from '../store/db.js';

/**
 * Consent registry (PIPL arts. 13–14, 23): a customer's explicit consent to provide named fields
 * to one recipient (partner) for one purpose, until it expires or is withdrawn, with a reference
 * to the evidence (signed form, recording).
 */
export interface Consent {
  readonly id: string;
  readonly customerId: string;
  readonly recipient: string;
  readonly purpose: string;
  readonly fields: readonly string[];
  readonly grantedAt: string;
  readonly expiresAt: string;
  readonly withdrawnAt: string | null;
  readonly evidence: string;
}

function fromRow(r: Record<string, unknown>): Consent {
  const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());
  return {
    id: String(r.id),
    customerId: String(r.customer_id),
    recipient: String(r.recipient),
    purpose: String(r.purpose),
    fields: (r.fields as string[]) ?? [],
    grantedAt: iso(r.granted_at) as string,
    expiresAt: iso(r.expires_at) as string,
    withdrawnAt: iso(r.withdrawn_at),
    evidence: String(r.evidence),
  };
}

export async function recordConsent(
  db: Db,
  input: { customerId: string; recipient: string; purpose: string; fields: readonly string[]; expiresAt: string; evidence: string; recordedBy: string },
): Promise<Consent> {
  const r = await db.query(
    `INSERT INTO consents (id, customer_id, recipient, purpose, fields, expires_at, evidence, recorded_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [randomUUID(), input.customerId, input.recipient, input.purpose, [...input.fields], input.expiresAt, input.evidence, input.recordedBy],
  );
  return fromRow(r.rows[0] as Record<string, unknown>);
}

export async function withdrawConsent(db: Db, id: string, at = new Date()): Promise<Consent | undefined> {
  const r = await db.query('UPDATE consents SET withdrawn_at = $2 WHERE id = $1 AND withdrawn_at IS NULL RETURNING *', [id, at.toISOString()]);
  return r.rows[0] ? fromRow(r.rows[0] as Record<string, unknown>) : undefined;
}

export async function listConsents(db: Db, customerId?: string): Promise<Consent[]> {
  const r = customerId
    ? await db.query('SELECT * FROM consents WHERE customer_id = $1 ORDER BY granted_at', [customerId])
    : await db.query('SELECT * FROM consents ORDER BY granted_at');
  return r.rows.map((row) => fromRow(row as Record<string, unknown>));
}

/**
 * Live consents in memory for the request path, re-read every `refreshMs`: a withdrawal made on
 * any replica takes effect on every replica within that time. Expiry is checked per request.
 */
export class ConsentCache {
  #live = new Map<string, { fields: Set<string>; expiresAt: number }[]>();
  #timer: NodeJS.Timeout | undefined;
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  static key(customerId: string, recipient: string, purpose: string): string {
    return `${customerId}\u0000${recipient}\u0000${purpose}`;
  }

  async refresh(): Promise<void> {
    const r = await this.#db.query<{ customer_id: string; recipient: string; purpose: string; fields: string[]; expires_at: string }>(
      'SELECT customer_id, recipient, purpose, fields, expires_at FROM consents WHERE withdrawn_at IS NULL AND expires_at > now()',
    );
    const next = new Map<string, { fields: Set<string>; expiresAt: number }[]>();
    for (const row of r.rows) {
      const key = ConsentCache.key(row.customer_id, row.recipient, row.purpose);
      next.set(key, [...(next.get(key) ?? []), { fields: new Set(row.fields), expiresAt: new Date(row.expires_at).getTime() }]);
    }
    this.#live = next;
  }

  start(refreshMs: number): void {
    this.#timer = setInterval(() => void this.refresh().catch(() => undefined), refreshMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** The fields this customer consented to give this recipient for this purpose, or undefined. */
  fields(customerId: string, recipient: string, purpose: string, now = Date.now()): Set<string> | undefined {
    const live = (this.#live.get(ConsentCache.key(customerId, recipient, purpose)) ?? []).filter((c) => c.expiresAt > now);
    if (live.length === 0) return undefined;
    return new Set(live.flatMap((c) => [...c.fields]));
  }
}
