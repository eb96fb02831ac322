import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { AuditRecord, ChainedRecord } from '../../src/audit/record.js';
import { insertAuditBatch, readChain } from '../../src/store/audit-store.js';
import { testDb } from '../helpers/store.js';

/**
 * Shipping must store every record exactly as the journal hashed it, whatever bytes the caller
 * put in it (on PostgreSQL the batch travels in COPY text format, where tab, newline and
 * backslash are syntax), and must skip what is already stored.
 */
const hostile = [
  'tab\there',
  'new\nline',
  'carriage\rreturn',
  'back\\slash',
  '\\N',
  '"quoted", {braced}',
  'NULL',
  '',
  '欧阳 🐉 \u2028',
  '\\t literal',
];

function chained(instance: string, seq: number, value: string): ChainedRecord {
  const record: AuditRecord = {
    v: 1,
    type: 'decision',
    id: randomUUID(),
    time: new Date().toISOString(),
    requestId: value,
    caller: { sub: value, kind: 'staff', roles: [value] },
    purpose: value,
    route: value,
    decision: 'allow',
    reason: 'OK',
    path: `/api/${value}`,
    subjects: { ids: [value, `${value}-2`], count: 2 },
  };
  return { instance, seq, prevHash: 'a'.repeat(64), hash: 'b'.repeat(64), record };
}

t.test('hostile values round-trip byte for byte, columns included', async (t) => {
  const db = await testDb();
  const instance = `store-test-${randomUUID()}`;
  const records = hostile.map((v, i) => chained(instance, i + 1, v));
  t.equal(await insertAuditBatch(db, records), records.length, 'every record is new');

  const stored = await readChain(db, instance, 0, 100);
  t.same(
    stored.map((r) => r.recordText),
    records.map((r) => JSON.stringify(r.record)),
    'record text as hashed',
  );
  const rows = await db.query<{ seq: string; request_id: string; caller_sub: string; subjects: string[]; caller_org: string | null; status: number | null }>(
    'SELECT seq, request_id, caller_sub, subjects, caller_org, status FROM audit_events WHERE instance_id = $1 ORDER BY seq',
    [instance],
  );
  t.same(
    rows.rows.map((r) => [r.request_id, r.caller_sub, r.subjects, r.caller_org, r.status]),
    hostile.map((v) => [v, v, [v, `${v}-2`], null, null]),
    'indexed columns hold the values, absent ones are NULL',
  );
});

t.test('shipping again stores nothing twice; a batch that overlaps stores only the new records', async (t) => {
  const db = await testDb();
  const instance = `store-test-${randomUUID()}`;
  const first = Array.from({ length: 50 }, (_, i) => chained(instance, i + 1, `r${i}`));
  t.equal(await insertAuditBatch(db, first), 50);
  t.equal(await insertAuditBatch(db, first), 0, 'the same batch again: nothing new');
  const overlapping = [...first.slice(40), ...Array.from({ length: 30 }, (_, i) => chained(instance, 51 + i, `s${i}`))];
  t.equal(await insertAuditBatch(db, overlapping), 30, 'only the 30 new records');
  const count = await db.query<{ n: string }>('SELECT count(*) AS n FROM audit_events WHERE instance_id = $1', [instance]);
  t.equal(Number(count.rows[0]?.n), 80, 'eighty rows, no duplicates');
  const seqs = (await readChain(db, instance, 0, 1000)).map((r) => r.seq);
  t.same(seqs, Array.from({ length: 80 }, (_, i) => i + 1));
});
