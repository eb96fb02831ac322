import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../src/audit/journal.js';
import type { AuditRecord } from '../src/audit/record.js';
import { Shipper } from '../src/audit/shipper.js';
import { type Db, pgliteDb, postgresDb } from '../src/store/db.js';
import { migrate } from '../src/store/migrations.js';
import type { BenchSection } from './results.js';
import { scratchDatabase } from './scratch-database.js';

/** A realistic decision record (masked path, caller, subjects, field report). */
function sampleRecord(i: number): AuditRecord {
  return {
    v: 1,
    type: 'decision',
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    time: new Date().toISOString(),
    requestId: `req-${i}`,
    caller: { sub: 'staff-0017', kind: 'staff', roles: ['credit_officer'] },
    purpose: 'credit_assessment',
    route: 'customers.detail',
    method: 'GET',
    path: `/api/customers/${i % 1000}`,
    upstream: 'loans',
    decision: 'allow',
    reason: 'OK',
    subjects: { ids: [String(i % 1000)], count: 1 },
    client: { ip: '127.0.0.1' },
    tls: { version: 'TLSv1.3' },
  };
}

/** Group-committed journal: `inFlight` appenders for `seconds`; records/s durable. */
export async function journalRate(seconds: number, inFlight: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'custodian-bench-journal-'));
  try {
    const journal = await Journal.open({ dir, instance: 'bench', segmentBytes: 64 * 2 ** 20, budgetBytes: 8 * 2 ** 30 });
    let done = 0;
    const deadline = performance.now() + seconds * 1000;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (performance.now() < deadline) {
          await journal.append(sampleRecord(done));
          done++;
        }
      }),
    );
    const rate = done / ((performance.now() - start) / 1000);
    await journal.close();
    return rate;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A scratch database on the local PostgreSQL if it answers, else embedded PGlite. */
async function scratchDb(): Promise<{ db: Db; label: string; drop: () => Promise<void> }> {
  const scratch = scratchDatabase();
  if (scratch.url) {
    const db = postgresDb(scratch.url);
    return {
      db,
      label: 'PostgreSQL 127.0.0.1:5432',
      drop: async () => {
        await db.close();
        scratch.drop();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'custodian-bench-pglite-'));
  const db = await pgliteDb(dir);
  const drop = async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { db, label: 'embedded PGlite', drop };
}

/**
 * Shipping end to end: a journal filled with `count` records, then the shipper drains it into the
 * database (read from segment files, batches of 2,000, shipped-position updates) while timed.
 */
async function shippingRate(count: number): Promise<{ rate: number; label: string }> {
  const { db, label, drop } = await scratchDb();
  const dir = mkdtempSync(join(tmpdir(), 'custodian-bench-ship-'));
  try {
    await migrate(db);
    const journal = await Journal.open({ dir, instance: 'bench', segmentBytes: 64 * 2 ** 20, budgetBytes: 8 * 2 ** 30 });
    let next = 0;
    await Promise.all(
      Array.from({ length: 512 }, async () => {
        while (next < count) await journal.append(sampleRecord(next++));
      }),
    );
    const shipper = new Shipper(journal, db);
    const start = performance.now();
    await shipper.shipOnce();
    const rate = journal.health.headSeq / ((performance.now() - start) / 1000);
    await journal.close();
    return { rate, label };
  } finally {
    await drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The median of three runs: this machine's figures move by a third from one run to the next. */
async function medianOfThree(run: () => Promise<number>): Promise<{ median: number; runs: number[] }> {
  const runs = [await run(), await run(), await run()];
  return { median: [...runs].sort((a, b) => a - b)[1] as number, runs };
}

const thousands = (runs: number[]) => `runs: ${runs.map((r) => `${Math.round(r / 1000)}k`).join(', ')}`;

export async function benchAudit(): Promise<BenchSection> {
  const journal = await medianOfThree(() => journalRate(2, 512));
  let label = '';
  const shipping = await medianOfThree(async () => {
    const result = await shippingRate(100_000);
    label = result.label;
    return result.rate;
  });
  return {
    title: 'Audit journal and shipping (issue 5)',
    description: `Each figure is the median of three runs. Journal: 512 concurrent appenders for 2 s, each append resolving only after its batch is fdatasync'd (group commit), on this machine's disk. Shipping: a journal of 100,000 records drained by the shipper — taken from memory or read from the segment files, batches of 2,000 (COPY … FROM STDIN on PostgreSQL, the idempotent INSERT … ON CONFLICT DO NOTHING only when a batch overlaps stored records; a multi-row INSERT on PGlite) into ${label}, each batch followed by its shipped-position update.`,
    rows: [
      { name: 'group-committed journal appends', value: journal.median, unit: 'records/s', target: '≥ 100,000 records/s', pass: journal.median >= 100_000, note: thousands(journal.runs) },
      { name: `shipping into ${label}`, value: shipping.median, unit: 'records/s', target: '≥ 50,000 records/s', pass: shipping.median >= 50_000, note: thousands(shipping.runs) },
    ],
  };
}
