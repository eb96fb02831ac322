import { randomUUID } from 'node:crypto';
import type { Db } from '../store/db.js';

/**
 * Restrictions and objections (PIPL arts. 44–47; 征信业管理条例 art. 25): the officer registers
 * that a customer's data may not be processed for some purposes (or any), with a ticket. An
 * objection also carries a due date for the written answer (default 20 days) and a status.
 */
export interface Restriction {
  readonly id: string;
  readonly customerId: string;
  readonly kind: 'objection' | 'restriction';
  /** Empty: every purpose. */
  readonly purposes: readonly string[];
  readonly ticket: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly dueAt: string | null;
  readonly status: 'open' | 'answered';
  readonly reply: string | null;
  readonly answeredBy: string | null;
  readonly answeredAt: string | null;
  readonly liftedAt: string | null;
}

const DAY = 86400_000;

function fromRow(r: Record<string, unknown>): Restriction {
  const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());
  return {
    id: String(r.id),
    customerId: String(r.customer_id),
    kind: r.kind as Restriction['kind'],
    purposes: (r.purposes as string[]) ?? [],
    ticket: String(r.ticket),
    createdBy: String(r.created_by),
    createdAt: iso(r.created_at) as string,
    dueAt: iso(r.due_at),
    status: r.status as Restriction['status'],
    reply: (r.reply as string | null) ?? null,
    answeredBy: (r.answered_by as string | null) ?? null,
    answeredAt: iso(r.answered_at),
    liftedAt: iso(r.lifted_at),
  };
}

export async function createRestriction(
  db: Db,
  input: { customerId: string; kind: Restriction['kind']; purposes: readonly string[]; ticket: string; createdBy: string; dueInDays?: number },
  now = new Date(),
): Promise<Restriction> {
  const dueAt = input.kind === 'objection' ? new Date(now.getTime() + (input.dueInDays ?? 20) * DAY).toISOString() : null;
  const r = await db.query(
    `INSERT INTO restrictions (id, customer_id, kind, purposes, ticket, created_by, created_at, due_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [randomUUID(), input.customerId, input.kind, [...input.purposes], input.ticket, input.createdBy, now.toISOString(), dueAt],
  );
  return fromRow(r.rows[0] as Record<string, unknown>);
}

export async function answerObjection(db: Db, id: string, reply: string, by: string, now = new Date()): Promise<Restriction | undefined> {
  const r = await db.query(
    `UPDATE restrictions SET status = 'answered', reply = $2, answered_by = $3, answered_at = $4 WHERE id = $1 RETURNING *`,
    [id, reply, by, now.toISOString()],
  );
  return r.rows[0] ? fromRow(r.rows[0] as Record<string, unknown>) : undefined;
}

export async function liftRestriction(db: Db, id: string, by: string, now = new Date()): Promise<Restriction | undefined> {
  const r = await db.query('UPDATE restrictions SET lifted_by = $2, lifted_at = $3 WHERE id = $1 AND lifted_at IS NULL RETURNING *', [id, by, now.toISOString()]);
  return r.rows[0] ? fromRow(r.rows[0] as Record<string, unknown>) : undefined;
}

export async function listRestrictions(db: Db, customerId?: string): Promise<Restriction[]> {
  const r = customerId
    ? await db.query('SELECT * FROM restrictions WHERE customer_id = $1 ORDER BY created_at', [customerId])
    : await db.query('SELECT * FROM restrictions ORDER BY created_at');
  return r.rows.map((row) => fromRow(row as Record<string, unknown>));
}

/**
 * The active restrictions, held in memory for the request path and refreshed from the database
 * every `refreshMs` (so a change made on one replica reaches every replica within that time).
 */
export class RestrictionCache {
  #byCustomer = new Map<string, Set<string> | 'all'>();
  #overdue = 0;
  #timer: NodeJS.Timeout | undefined;
  #loaded = false;
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  get loaded(): boolean {
    return this.#loaded;
  }

  /** Objections past their due date without an answer. */
  get overdueObjections(): number {
    return this.#overdue;
  }

  async refresh(now = new Date()): Promise<void> {
    const r = await this.#db.query<{ customer_id: string; purposes: string[]; kind: string; status: string; due_at: string | null }>(
      'SELECT customer_id, purposes, kind, status, due_at FROM restrictions WHERE lifted_at IS NULL',
    );
    const next = new Map<string, Set<string> | 'all'>();
    let overdue = 0;
    for (const row of r.rows) {
      const existing = next.get(row.customer_id);
      if (row.purposes.length === 0 || existing === 'all') next.set(row.customer_id, 'all');
      else next.set(row.customer_id, new Set([...(existing ?? []), ...row.purposes]));
      if (row.kind === 'objection' && row.status === 'open' && row.due_at && new Date(row.due_at) < now) overdue++;
    }
    this.#byCustomer = next;
    this.#overdue = overdue;
    this.#loaded = true;
  }

  start(refreshMs: number): void {
    const tick = () => {
      this.refresh().catch(() => undefined);
    };
    this.#timer = setInterval(tick, refreshMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** Whether processing this customer's data for this purpose is restricted. */
  restricts(customerId: string, purpose: string): boolean {
    const r = this.#byCustomer.get(customerId);
    return r === 'all' || (r?.has(purpose) ?? false);
  }
}
