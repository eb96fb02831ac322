import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../src/audit/journal.js';
import type { AuditRecord } from '../src/audit/record.js';
import { insertAuditBatch } from '../src/store/audit-store.js';
import { type Db, pgliteDb, postgresDb } from '../src/store/db.js';
import { migrate } from '../src/store/migrations.js';
import type { BenchSection } from './results.js';

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
async function journalRate(seconds: number, inFlight: number): Promise<number> {
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
  const name = `custodian_bench_${Date.now()}`;
  try {
    execFileSync('psql', ['-q', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `CREATE DATABASE ${name}`], { stdio: 'ignore' });
    const db = postgresDb(`postgres://postgres@127.0.0.1:5432/${name}`);
    return {
      db,
      label: 'PostgreSQL 127.0.0.1:5432',
      drop: async () => {
        await db.close();
        execFileSync('psql', ['-q', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `DROP DATABASE ${name}`], { stdio: 'ignore' });
      },
    };
  } catch {
    const dir = mkdtempSync(join(tmpdir(), 'custodian-bench-pglite-'));
    const db = await pgliteDb(dir);
    const drop = async () => {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    };
    return { db, label: 'embedded PGlite', drop };
  }
}

/** Shipping: batches of 2000 chained records through insertAuditBatch for `seconds`. */
async function shippingRate(seconds: number): Promise<{ rate: number; label: string }> {
  const { db, label, drop } = await scratchDb();
  try {
    await migrate(db);
    const batch = Array.from({ length: 2000 }, (_, i) => ({ instance: 'bench', seq: i + 1, prevHash: '0'.repeat(64), hash: 'f'.repeat(64), record: sampleRecord(i) }));
    let shipped = 0;
    let seqBase = 0;
    const deadline = performance.now() + seconds * 1000;
    const start = performance.now();
    while (performance.now() < deadline) {
      await insertAuditBatch(db, batch.map((r) => ({ ...r, seq: r.seq + seqBase })));
      seqBase += batch.length;
      shipped += batch.length;
    }
    return { rate: shipped / ((performance.now() - start) / 1000), label };
  } finally {
    await drop();
  }
}

export async function benchAudit(): Promise<BenchSection> {
  const journal = await journalRate(3, 512);
  const shipping = await shippingRate(4);
  return {
    title: 'Audit journal and shipping (issue 5)',
    description: `Journal: 512 concurrent appenders for 3 s, each append resolving only after its batch is fdatasync'd (group commit), on this machine's disk. Shipping: batches of 2,000 records through the shipper's INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING into ${shipping.label}, for 4 s.`,
    rows: [
      { name: 'group-committed journal appends', value: journal, unit: 'records/s', target: '≥ 100,000 records/s', pass: journal >= 100_000 },
      { name: `shipping into ${shipping.label}`, value: shipping.rate, unit: 'records/s', target: '≥ 50,000 records/s', pass: shipping.rate >= 50_000 },
    ],
  };
}
