import { createHash } from 'node:crypto';
import { sha256 } from '../sha256.js';
import type { Db } from '../store/db.js';

/**
 * The table keeps a digest of each customer id, not the id: distinct ids stay distinct (so the
 * count is exact) while an id that is itself an identifier never sits in the table in clear.
 */
function digestOf(customerId: string): string {
  return remembered(digestMemo, customerId, () => sha256(customerId, 'base64url').slice(0, 22));
}

/**
 * Every id of every list response is checked against the budget and every count lookup keys on
 * the caller: a hash each was the bulk guard's largest cost, so results are remembered. Bounded;
 * cleared when full (this process already holds these ids).
 */
const MEMO_CAP = 20_000;
const digestMemo = new Map<string, string>();
const countKeyMemo = new Map<string, string>();

function remembered(memo: Map<string, string>, key: string, compute: () => string): string {
  let value = memo.get(key);
  if (value === undefined) {
    value = compute();
    if (memo.size >= MEMO_CAP) memo.clear();
    memo.set(key, value);
  }
  return value;
}

/**
 * Bulk-access guard: how many distinct customers one caller touched for one purpose in a sliding
 * window. Counted in PostgreSQL (one row per caller × purpose × customer, refreshed on every
 * touch), so every replica sharing the database sees the same count: an insider cannot spread
 * an export over several replicas.
 */
// Touches of the same caller × purpose × customer within this long are not re-sent to the
// database (each replica remembers its own recent touches): repeated reads of the same records
// cost no round trip, and a customer's window end moves by at most this much.
const RETOUCH_MS = 60_000;
const RECENT_CAP = 100_000;

/**
 * This replica's recent touches, by caller × purpose and then by customer id, so that a list
 * response's ids are looked up as they are, without a key built per id. Bounded; cleared when full.
 */
class RecentTouches {
  readonly #byCallerPurpose = new Map<string, Map<string, number>>();
  #size = 0;

  /** When this replica last sent each customer of the caller × purpose (ms). */
  of(caller: string, purpose: string): ReadonlyMap<string, number> | undefined {
    return this.#byCallerPurpose.get(`${caller}\u0000${purpose}`);
  }

  record(caller: string, purpose: string, customers: readonly string[], at: number): void {
    if (this.#size > RECENT_CAP) {
      this.#byCallerPurpose.clear();
      this.#size = 0;
    }
    const key = `${caller}\u0000${purpose}`;
    let touched = this.#byCallerPurpose.get(key);
    if (!touched) {
      touched = new Map();
      this.#byCallerPurpose.set(key, touched);
    }
    for (const c of customers) {
      if (!touched.has(c)) this.#size++;
      touched.set(c, at);
    }
  }
}
const recentByDb = new WeakMap<Db, RecentTouches>();

/**
 * Each replica caches the window count per caller × purpose, so a caller re-reading customers
 * already counted costs no round trip. The cache is only trusted while it cannot be stale:
 * - every change to bulk_access, by any replica, notifies every replica (a trigger, migration 8)
 *   and drops that caller's entry; while the listening connection is down nothing is cached;
 * - this replica's own additions drop the entry at once, without waiting for the notification;
 * - an entry is re-read after COUNT_TTL_MS anyway, so customers leaving the window are not
 *   counted for long (until then the count is too high, never too low).
 * An embedded store belongs to this process alone, so its cache needs no notifications.
 */
const COUNT_TTL_MS = 10_000;
const CHANGES_CHANNEL = 'custodian_bulk_access';

interface SharedCounts {
  readonly counts: Map<string, { count: number; at: number }>;
  /** Bumped on every invalidation: a count read before it must not be cached after it. */
  generation: number;
  coherent(): boolean;
}
const countsByDb = new WeakMap<Db, SharedCounts>();

function sharedCounts(db: Db): SharedCounts {
  const existing = countsByDb.get(db);
  if (existing) return existing;
  const shared: SharedCounts = { counts: new Map(), generation: 0, coherent: () => true };
  if (db.subscribe) {
    const subscription = db.subscribe(CHANGES_CHANNEL, (payload) => {
      shared.generation++;
      if (payload === undefined) shared.counts.clear();
      else shared.counts.delete(payload);
    });
    shared.coherent = () => subscription.live;
  }
  countsByDb.set(db, shared);
  return shared;
}

/** The trigger's payload for a caller × purpose: md5(caller ␟ purpose), hex. */
function countKey(caller: string, purpose: string): string {
  const plain = `${caller}\u001f${purpose}`;
  return remembered(countKeyMemo, plain, () => createHash('md5').update(plain).digest('hex'));
}

/** Whether re-touches within RETOUCH_MS may be skipped: only for windows much longer than that. */
function skipsRecent(windowSeconds: number): boolean {
  return windowSeconds * 1000 >= 10 * RETOUCH_MS;
}

/**
 * Record that the caller touched these customers now. Returns how many of them were new in the
 * caller's window (not seen before), or undefined when nothing needed sending.
 */
export async function touchCustomers(
  db: Db,
  caller: string,
  purpose: string,
  customers: readonly string[],
  windowSeconds: number,
  now = new Date(),
): Promise<number | undefined> {
  const at = now.getTime();
  let recent = recentByDb.get(db);
  if (!recent) {
    recent = new RecentTouches();
    recentByDb.set(db, recent);
  }
  const touched = skipsRecent(windowSeconds) ? recent.of(caller, purpose) : undefined;
  // Recent touches are remembered by customer id (in memory only); the table gets digests.
  const dueIds = [...new Set(customers)].filter((c) => at - (touched?.get(c) ?? 0) > RETOUCH_MS);
  if (dueIds.length === 0) return undefined;
  const due = dueIds.map(digestOf);
  const since = new Date(at - windowSeconds * 1000).toISOString();
  // xmax = 0 on the returned row means it was inserted, not updated; an updated row whose last
  // touch had left the window counts as new too.
  const r = await db.query<{ fresh: boolean }>(
    `WITH previous AS (
       SELECT customer_id, seen_at FROM bulk_access WHERE caller = $1 AND purpose = $2 AND customer_id = ANY($3::text[])
     ), upserted AS (
       INSERT INTO bulk_access (caller, purpose, customer_id, seen_at)
       SELECT $1, $2, c, $4 FROM unnest($3::text[]) AS c
       ON CONFLICT (caller, purpose, customer_id) DO UPDATE SET seen_at = EXCLUDED.seen_at
       RETURNING customer_id
     )
     SELECT (p.seen_at IS NULL OR p.seen_at <= $5) AS fresh FROM upserted u LEFT JOIN previous p USING (customer_id)`,
    [caller, purpose, due, now.toISOString(), since],
  );
  recent.record(caller, purpose, dueIds, at);
  const fresh = r.rows.filter((row) => row.fresh).length;
  if (fresh > 0) {
    const shared = sharedCounts(db);
    shared.generation++;
    shared.counts.delete(countKey(caller, purpose));
  }
  return fresh;
}

/**
 * The caller's window count from this replica's cache, when it cannot be stale and every one of
 * `candidates` is a customer this replica counted moments ago (so each is in the window);
 * undefined when the database must be asked.
 */
function cachedCount(db: Db, caller: string, purpose: string, windowSeconds: number, candidates: readonly string[], at: number): number | undefined {
  if (!skipsRecent(windowSeconds)) return undefined;
  const shared = sharedCounts(db);
  if (!shared.coherent()) return undefined;
  const cached = shared.counts.get(countKey(caller, purpose));
  if (!cached || at - cached.at >= COUNT_TTL_MS) return undefined;
  const touched = recentByDb.get(db)?.of(caller, purpose);
  return candidates.every((c) => at - (touched?.get(c) ?? 0) <= RETOUCH_MS) ? cached.count : undefined;
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
  const at = now.getTime();
  const shared = sharedCounts(db);
  const key = countKey(caller, purpose);
  const cached = cachedCount(db, caller, purpose, windowSeconds, candidates, at);
  if (cached !== undefined) return { count: cached, alreadySeen: new Set(candidates) };
  const generation = shared.generation;
  const digests = candidates.map(digestOf);
  const since = new Date(at - windowSeconds * 1000).toISOString();
  const r = await db.query<{ n: string; seen: string[] | null }>(
    `SELECT count(*) AS n, array_agg(customer_id) FILTER (WHERE customer_id = ANY($4::text[])) AS seen
     FROM bulk_access WHERE caller = $1 AND purpose = $2 AND seen_at > $3`,
    [caller, purpose, since, digests],
  );
  const seenDigests = new Set(r.rows[0]?.seen ?? []);
  const count = Number(r.rows[0]?.n ?? 0);
  if (shared.generation === generation && shared.coherent()) {
    if (shared.counts.size > RECENT_CAP) shared.counts.clear();
    shared.counts.set(key, { count, at });
  }
  return { count, alreadySeen: new Set(candidates.filter((_c, i) => seenDigests.has(digests[i] as string))) };
}

/**
 * The caller's budget for a list response, read once before the response is scoped: which
 * customers the caller already has in the window (by digest) and how many new ones may still be
 * released before the purpose's refuseAt. One query of at most ~refuseAt rows per list response.
 */
export class BulkBudget {
  readonly #seen: ReadonlySet<string>;
  #remaining: number;

  constructor(seen: ReadonlySet<string>, remaining: number) {
    this.#seen = seen;
    this.#remaining = Math.max(0, remaining);
  }

  /** Whether this customer may be released: already in the window, or new within the budget. */
  admits(customerId: string): boolean {
    if (this.#seen.has(digestOf(customerId))) return true;
    if (this.#remaining > 0) {
      this.#remaining--;
      return true;
    }
    return false;
  }

  /** New customers that may still be released by this response. */
  get remaining(): number {
    return this.#remaining;
  }
}

/**
 * The budget for one list response naming `candidates`. When every candidate is a customer this
 * replica counted moments ago and the caller's count is cached, the budget comes from the cache
 * (all of them already seen; what is left is refuseAt less the count): a caller re-reading the
 * same page near its limit costs no round trip. Otherwise the caller's window (digests) is read.
 */
export async function loadBulkBudget(
  db: Db,
  caller: string,
  purpose: string,
  windowSeconds: number,
  refuseAt: number,
  candidates: readonly string[] = [],
  now = new Date(),
): Promise<BulkBudget> {
  const cached = candidates.length > 0 ? cachedCount(db, caller, purpose, windowSeconds, candidates, now.getTime()) : undefined;
  if (cached !== undefined) return new BulkBudget(new Set(candidates.map(digestOf)), refuseAt - cached);
  const since = new Date(now.getTime() - windowSeconds * 1000).toISOString();
  const r = await db.query<{ customer_id: string }>('SELECT customer_id FROM bulk_access WHERE caller = $1 AND purpose = $2 AND seen_at > $3', [
    caller,
    purpose,
    since,
  ]);
  const seen = new Set(r.rows.map((row) => row.customer_id));
  return new BulkBudget(seen, refuseAt - seen.size);
}
