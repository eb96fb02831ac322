import type { Db } from '../store/db.js';

/**
 * Bulk-access guard: how many distinct customers one caller touched for one purpose in a sliding
 * window. Counted in PostgreSQL (one row per caller × purpose × customer, refreshed on every
 * touch), so every replica sharing the database sees the same count: an insider cannot spread
 * an export over several replicas.
 */
export async function touchCustomers(db: Db, caller: string, purpose: string, customers: readonly string[], now = new Date()): Promise<void> {
  if (customers.length === 0) return;
  await db.query(
    `INSERT INTO bulk_access (caller, purpose, customer_id, seen_at)
     SELECT $1, $2, c, $4 FROM unnest($3::text[]) AS c
     ON CONFLICT (caller, purpose, customer_id) DO UPDATE SET seen_at = EXCLUDED.seen_at`,
    [caller, purpose, [...new Set(customers)], now.toISOString()],
  );
}

/** Distinct customers in the window, and which of `candidates` are already among them. */
export async function windowCount(
  db: Db,
  caller: string,
  purpose: string,
  windowSeconds: number,
  candidates: readonly string[],
  now = new Date(),
): Promise<{ count: number; alreadySeen: Set<string> }> {
  const since = new Date(now.getTime() - windowSeconds * 1000).toISOString();
  const r = await db.query<{ n: string; seen: string[] | null }>(
    `SELECT count(*) AS n, array_agg(customer_id) FILTER (WHERE customer_id = ANY($4::text[])) AS seen
     FROM bulk_access WHERE caller = $1 AND purpose = $2 AND seen_at > $3`,
    [caller, purpose, since, [...candidates]],
  );
  return { count: Number(r.rows[0]?.n ?? 0), alreadySeen: new Set(r.rows[0]?.seen ?? []) };
}
