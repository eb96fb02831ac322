import type { ChainedRecord } from '../audit/record.js';
import type { Db } from './db.js';
import { recordedSubjectForms } from '../audit/subjects.js';
import type { MaskingConfig } from '../config/types.js';
import { copyField, copyRow, copyTextArray } from './copy-text.js';
import { ensurePartition } from './migrations.js';

const COLUMNS =
  'instance_id, seq, occurred_at, type, request_id, caller_sub, caller_kind, caller_org, caller_app, purpose, route_id, decision, reason, status, subjects, record_text, prev_hash, hash';

/**
 * Insert a batch of chained records. Idempotent: a record shipped twice (at-least-once delivery
 * after a crash) is skipped. Returns how many rows were new.
 *
 * On PostgreSQL the batch goes in with COPY, several times faster than any INSERT; COPY cannot skip
 * duplicates, so a batch that hits the primary key (only after a crash between insert and the
 * shipped-position update) falls back to the INSERT … ON CONFLICT DO NOTHING path.
 */
export async function insertAuditBatch(db: Db, records: readonly ShipRecord[]): Promise<number> {
  if (records.length === 0) return 0;
  const months = new Set<string>();
  for (const r of records) {
    const key = r.record.time.slice(0, 7);
    if (!months.has(key)) {
      months.add(key);
      await ensurePartition(db, new Date(r.record.time));
    }
  }
  if (db.copyFrom) {
    try {
      return await db.copyFrom(`COPY audit_events (${COLUMNS}) FROM STDIN`, records.map(copyRecordRow).join(''));
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
    }
  }
  return insertIgnoringDuplicates(db, records);
}

const UNIQUE_VIOLATION = '23505';

/** A chained record, with the text its hash covers when the caller has it at hand. */
type ShipRecord = ChainedRecord & { readonly recordText?: string };

/** Exactly the text the journal hashed (JSON.parse/stringify round-trips it unchanged). */
const recordText = (r: ShipRecord) => r.recordText ?? JSON.stringify(r.record);

function copyRecordRow(r: ShipRecord): string {
  const x = r.record;
  return copyRow([
    copyField(r.instance),
    copyField(r.seq),
    copyField(x.time),
    copyField(x.type),
    copyField(x.requestId),
    copyField(x.caller?.sub),
    copyField(x.caller?.kind),
    copyField(x.caller?.org),
    copyField(x.caller?.app),
    copyField(x.purpose),
    copyField(x.route),
    copyField(x.decision),
    copyField(x.reason),
    copyField(x.status),
    copyTextArray(x.subjects?.ids ?? []),
    copyField(recordText(r)),
    copyField(r.prevHash),
    copyField(r.hash),
  ]);
}

/** One multi-row INSERT (unnest of arrays) that skips rows already present. */
async function insertIgnoringDuplicates(db: Db, records: readonly ShipRecord[]): Promise<number> {
  const col = <T>(fn: (r: ShipRecord) => T) => records.map(fn);
  const result = await db.query<{ seq: string }>(
    `INSERT INTO audit_events (${COLUMNS})
     SELECT t.instance_id, t.seq, t.occurred_at, t.type, t.request_id, t.caller_sub, t.caller_kind, t.caller_org, t.caller_app,
       t.purpose, t.route_id, t.decision, t.reason, t.status,
       CASE WHEN t.subjects = '' THEN '{}'::text[] ELSE string_to_array(t.subjects, E'\\x1F') END,
       t.record_text, t.prev_hash, t.hash
     FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
       $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::int[], $15::text[], $16::text[], $17::text[], $18::text[])
       AS t(instance_id, seq, occurred_at, type, request_id, caller_sub, caller_kind, caller_org, caller_app, purpose, route_id,
            decision, reason, status, subjects, record_text, prev_hash, hash)
     ON CONFLICT DO NOTHING
     RETURNING seq`,
    [
      col((r) => r.instance),
      col((r) => r.seq),
      col((r) => r.record.time),
      col((r) => r.record.type),
      col((r) => r.record.requestId ?? null),
      col((r) => r.record.caller?.sub ?? null),
      col((r) => r.record.caller?.kind ?? null),
      col((r) => r.record.caller?.org ?? null),
      col((r) => r.record.caller?.app ?? null),
      col((r) => r.record.purpose ?? null),
      col((r) => r.record.route ?? null),
      col((r) => r.record.decision ?? null),
      col((r) => r.record.reason ?? null),
      col((r) => r.record.status ?? null),
      // Unit separator: customer ids never contain it, and string_to_array is cheaper than JSON.
      col((r) => (r.record.subjects?.ids ?? []).join('\u001f')),
      col(recordText),
      col((r) => r.prevHash),
      col((r) => r.hash),
    ],
  );
  return result.rows.length;
}

export async function shippedSeq(db: Db, instance: string): Promise<number> {
  const r = await db.query<{ shipped_seq: string }>('SELECT shipped_seq FROM audit_ship_state WHERE instance_id = $1', [instance]);
  return r.rows[0] ? Number(r.rows[0].shipped_seq) : 0;
}

export async function setShippedSeq(db: Db, instance: string, seq: number): Promise<void> {
  await db.query(
    `INSERT INTO audit_ship_state (instance_id, shipped_seq, updated_at) VALUES ($1, $2, now())
     ON CONFLICT (instance_id) DO UPDATE SET shipped_seq = GREATEST(audit_ship_state.shipped_seq, EXCLUDED.shipped_seq), updated_at = now()`,
    [instance, seq],
  );
}

/** Every chained record of an instance from the database, in seq order (for verification). */
export async function readChain(
  db: Db,
  instance: string,
  afterSeq: number,
  limit: number,
): Promise<(ChainedRecord & { recordText: string })[]> {
  const r = await db.query<{ seq: string; prev_hash: string; hash: string; record_text: string }>(
    'SELECT seq, prev_hash, hash, record_text FROM audit_events WHERE instance_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
    [instance, afterSeq, limit],
  );
  return r.rows.map((row) => ({
    instance,
    seq: Number(row.seq),
    prevHash: row.prev_hash,
    hash: row.hash,
    record: JSON.parse(row.record_text) as ChainedRecord['record'],
    recordText: row.record_text,
  }));
}

export async function instances(db: Db): Promise<string[]> {
  const r = await db.query<{ instance_id: string }>('SELECT DISTINCT instance_id FROM audit_events ORDER BY 1');
  return r.rows.map((x) => x.instance_id);
}

export interface SubjectAccess {
  readonly time: string;
  readonly caller: string;
  readonly kind: string | null;
  readonly roles: readonly string[];
  readonly purpose: string | null;
  readonly route: string | null;
  readonly decision: string | null;
  readonly status: number | null;
  readonly revealedClasses: readonly string[];
  /** The caller's organisation (partners), when the record names one. */
  readonly organisation?: string;
  /** The application the person acted through (clients), when there was one. */
  readonly application?: string;
  /** Field names released in clear, and released in another form (masked, pseudonymised, generalised). */
  readonly fields?: { readonly clear: readonly string[]; readonly transformed: readonly string[] };
  /** Found only by the masked form of the customer's id, which other customers can share. */
  readonly ambiguous?: true;
}

/**
 * "Who accessed my data": every completed request that touched the customer, with the classes
 * released in clear. What the officer needs to answer a customer (PIPL art. 45, 征信业管理条例 art. 25).
 * The customer is looked up under every form records hold it in (recordedSubjectForms); a line
 * found only by a masked form is flagged `ambiguous`, since another customer can share it.
 */
export async function subjectHistory(
  db: Db,
  subject: string,
  from: Date,
  to: Date,
  keys: Pick<MaskingConfig, 'pseudonymKeys' | 'activePseudonymKey'>,
): Promise<SubjectAccess[]> {
  const forms = recordedSubjectForms(subject, keys);
  const exact = new Set(forms.exact);
  const r = await db.query<{ occurred_at: Date | string; record_text: string; subjects: string[] }>(
    `SELECT occurred_at, record_text, subjects FROM audit_events
     WHERE subjects && $1::text[] AND occurred_at >= $2 AND occurred_at < $3 AND type IN ('decision', 'completion')
     ORDER BY occurred_at, seq`,
    [forms.masked === undefined ? forms.exact : [...forms.exact, forms.masked], from.toISOString(), to.toISOString()],
  );
  // One line per request: the completion record when there is one (it has the outcome), else the decision.
  const byRequest = new Map<string, { record: Record<string, unknown>; time: string; ambiguous: boolean }>();
  for (const row of r.rows) {
    const record = JSON.parse(row.record_text) as Record<string, unknown>;
    const key = String(record.requestId ?? record.id);
    const existing = byRequest.get(key);
    const ambiguous = !row.subjects.some((s) => exact.has(s)) && (existing?.ambiguous ?? true);
    if (!existing || record.type === 'completion') {
      byRequest.set(key, { record: { ...(existing?.record ?? {}), ...record }, time: existing?.time ?? new Date(row.occurred_at).toISOString(), ambiguous });
    }
  }
  return [...byRequest.values()].map(({ record, time, ambiguous }) => {
    const caller = (record.caller ?? {}) as { sub?: string; kind?: string; org?: string; roles?: string[]; app?: string };
    const fields = (record.fields ?? {}) as { revealedClasses?: string[]; kept?: string[]; masked?: string[]; pseudonymised?: string[]; generalised?: string[] };
    return {
      time,
      caller: caller.sub ?? 'unknown',
      kind: caller.kind ?? null,
      roles: caller.roles ?? [],
      purpose: (record.purpose as string | undefined) ?? null,
      route: (record.route as string | undefined) ?? null,
      decision: (record.decision as string | undefined) ?? null,
      status: (record.status as number | undefined) ?? null,
      revealedClasses: fields.revealedClasses ?? [],
      ...(caller.org ? { organisation: caller.org } : {}),
      ...(caller.app ? { application: caller.app } : {}),
      ...(fields.kept ? { fields: { clear: fields.kept, transformed: [...(fields.masked ?? []), ...(fields.pseudonymised ?? []), ...(fields.generalised ?? [])].sort() } } : {}),
      ...(ambiguous ? { ambiguous: true } : {}),
    };
  });
}
