import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { chainHash } from '../src/audit/chain.js';
import { GENESIS_HASH, type AuditRecord } from '../src/audit/record.js';
import { loadConfig } from '../src/config/load.js';
import { inspectionReport } from '../src/report/inspection.js';
import { renderReport } from '../src/report/render.js';
import { insertAuditBatch } from '../src/store/audit-store.js';
import { postgresDb } from '../src/store/db.js';
import { migrate } from '../src/store/migrations.js';
import type { BenchSection } from './results.js';
import { scratchDatabase } from './scratch-database.js';

const RECORDS = Number(process.env.BENCH_REPORT_RECORDS ?? 1_000_000);
const DAYS = 30;

const CAST = [
  { sub: 'staff-0017', kind: 'staff', roles: ['credit_officer'], purpose: 'credit_assessment', revealed: ['C2'] },
  { sub: 'staff-0042', kind: 'staff', roles: ['risk_analyst'], purpose: 'risk_management', revealed: [] },
  { sub: 'staff-0108', kind: 'staff', roles: ['cs_agent'], purpose: 'customer_service', revealed: [] },
  { sub: 'staff-0233', kind: 'staff', roles: ['collector'], purpose: 'collection', revealed: ['C2'] },
  { sub: 'bureau-a', kind: 'partner', org: 'bureau-a', roles: ['credit_bureau'], purpose: 'credit_reporting', revealed: ['C2'] },
] as const;
const REFUSALS = ['CUSTODIAN_PURPOSE_NOT_ALLOWED', 'CUSTODIAN_ATTESTATION_LAPSED', 'CUSTODIAN_BULK_LIMIT', 'CUSTODIAN_CONSENT_REQUIRED'];

/**
 * A month of traffic as the gateway records it: per request a decision record and a completion
 * record (one in ten refused), over 30 days, five callers, customers 1–20,000, chained and signed
 * off as a real journal would be, loaded with the shipper's own COPY.
 */
function* records(count: number, from: number): Generator<AuditRecord> {
  for (let i = 0; i < count / 2; i++) {
    const who = CAST[i % CAST.length] as (typeof CAST)[number];
    const time = new Date(from + Math.floor((i / (count / 2)) * DAYS * 86400_000)).toISOString();
    const refused = i % 10 === 9;
    const requestId = randomUUID();
    const customer = String(1 + ((i * 7919) % 20_000));
    const common = {
      v: 1 as const,
      time,
      requestId,
      caller: { sub: who.sub, kind: who.kind, org: 'org' in who ? who.org : undefined, roles: [...who.roles] },
      purpose: who.purpose,
      route: 'customers.detail',
      method: 'GET',
      path: `/api/customers/${customer}`,
      subjects: { ids: [customer], count: 1 },
      client: { ip: '10.0.0.7' },
    };
    yield { ...common, type: 'decision', id: randomUUID(), decision: refused ? 'deny' : 'allow', reason: refused ? (REFUSALS[i % REFUSALS.length] as string) : 'OK' };
    yield {
      ...common,
      type: 'completion',
      id: randomUUID(),
      decision: refused ? 'deny' : 'allow',
      reason: refused ? (REFUSALS[i % REFUSALS.length] as string) : 'OK',
      status: refused ? 403 : 200,
      fields: { kept: ['id'], masked: ['mobile'], pseudonymised: [], generalised: [], dropped: [], revealedClasses: refused ? [] : [...who.revealed], detectorHits: { residentId: 0, mobile: 0, bankCard: 0 } },
      ...(i % 5000 === 0 ? { detail: { bulkAlert: 150 } } : {}),
    };
  }
}

/** The inspection report over a million audit records on PostgreSQL (issue 16: under 30 s). */
export async function benchReport(): Promise<BenchSection> {
  const scratch = scratchDatabase();
  if (!scratch.url) throw new Error('the report bench needs PostgreSQL at 127.0.0.1:5432');
  const db = postgresDb(scratch.url);
  try {
    await migrate(db);
    const from = Date.UTC(2026, 9, 1);
    const loadStart = performance.now();
    let prevHash = GENESIS_HASH;
    let seq = 0;
    let batch: Parameters<typeof insertAuditBatch>[1][number][] = [];
    for (const record of records(RECORDS, from)) {
      const recordText = JSON.stringify(record);
      seq++;
      const hash = chainHash(prevHash, 'bench-report', seq, recordText);
      batch.push({ instance: 'bench-report', seq, prevHash, hash, record, recordText });
      prevHash = hash;
      if (batch.length === 20_000) {
        await insertAuditBatch(db, batch);
        batch = [];
      }
    }
    if (batch.length > 0) await insertAuditBatch(db, batch);
    await db.query('ANALYZE audit_events');
    const loadSeconds = (performance.now() - loadStart) / 1000;

    const config = loadConfig(resolve('config/demo.yaml'));
    const start = performance.now();
    const report = await inspectionReport(db, config, { from: new Date(from), to: new Date(from + DAYS * 86400_000), utcOffset: '+08:00' });
    const html = renderReport(report, 'html');
    const seconds = (performance.now() - start) / 1000;
    const refusals = report.sections.find((s) => s.id === 'refusals')?.table.rows.reduce((n, r) => n + Number(r[1]), 0) ?? 0;
    const chain = report.sections.find((s) => s.id === 'chain');
    return {
      title: 'Inspection report (issue 16)',
      description: `${RECORDS.toLocaleString('en')} audit records (a decision and a completion per request, one request in ten refused, 30 days, five callers, 20,000 customers), chained, loaded with the shipper's COPY into a scratch database on 127.0.0.1:5432 (${loadSeconds.toFixed(0)} s), then \`inspectionReport\` over the month and the HTML rendered. Aggregation runs in SQL; the chain section re-verifies every record's hash.`,
      rows: [
        { name: `inspection report over ${RECORDS.toLocaleString('en')} records, all sections + HTML (${html.length.toLocaleString('en')} bytes; ${refusals.toLocaleString('en')} refusals counted; chain: ${chain?.summary.en})`, value: seconds, unit: 's', target: '< 30 s', pass: seconds < 30 && refusals === RECORDS / 20 },
      ],
    };
  } finally {
    await db.close();
    scratch.drop();
  }
}
