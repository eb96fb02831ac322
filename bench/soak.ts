import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { generate } from 'selfsigned';
import { benchPolicy, hasTaskset, startServer } from './proxy.js';
import type { BenchRow, BenchSection } from './results.js';
import { scratchDatabase } from './scratch-database.js';

const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 600);
const WINDOWS = 10;
const CONNECTIONS = 16;
const PATH = '/api/customers/small';

/** Resident set size of a process, in bytes (Linux /proc). */
function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) * 1024;
}

/**
 * Decision records in the audit database. The journal is only each pod's spool (shipped segments
 * beyond its local tail are deleted), so the archive is where every record must end up.
 */
async function decisionRecords(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ n: string }>("SELECT count(*) AS n FROM audit_events WHERE type = 'decision'");
    return Number(r.rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/** Sample a process's RSS every second until `until` resolves; the mean. */
async function meanRssWhile(pid: number, until: Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  let done = false;
  void until.finally(() => {
    done = true;
  });
  while (!done) {
    samples.push(rssOf(pid));
    await Promise.race([until, new Promise((r) => setTimeout(r, 1000))]);
  }
  return samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length);
}

/**
 * Issue 14's soak: Custodian (its own process, pinned to core 0; durable audit shipped to
 * PostgreSQL) at 80 % of the peak it reached a moment before, for SOAK_SECONDS in WINDOWS
 * windows, with one request in five refused (a purpose the caller does not hold). Counts every
 * answer that is not the expected status, the process RSS after each window, each window's p99,
 * and at the end the decision records shipped to the audit database against the requests answered.
 */
/** A count read until it stops changing (the shipper has drained its backlog), for at most a minute. */
async function stableCount(read: () => Promise<number>): Promise<number> {
  let last = -1;
  const until = Date.now() + 60_000;
  for (;;) {
    const now = await read();
    if (now === last || Date.now() > until) return now;
    last = now;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function benchSoak(): Promise<BenchSection> {
  const pinned = hasTaskset();
  if (pinned) execFileSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const dir = mkdtempSync(join(tmpdir(), 'custodian-soak-'));
  const children: ChildProcess[] = [];
  const scratch = scratchDatabase();
  try {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', algorithm: 'sha256' });
    const upstream = await startServer('bench/servers/upstream.ts', {}, pinned ? 1 : undefined);
    children.push(upstream.child);
    const token = await benchPolicy(dir, upstream.port, pems.cert, pems.private, scratch.url);
    const custodian = await startServer('bench/servers/custodian.ts', { BENCH_DIR: dir, BENCH_CONFIG: 'custodian' }, pinned ? 0 : undefined);
    children.push(custodian.child);
    const pid = Number(readFileSync(join(dir, 'custodian.pid'), 'utf8'));
    const url = `https://127.0.0.1:${custodian.port}${PATH}`;
    const allowed = { authorization: `Bearer ${token}`, 'x-purpose': 'customer_service' };
    const refused = { authorization: `Bearer ${token}`, 'x-purpose': 'collection' };

    const peak = await autocannon({ url, headers: allowed, connections: CONNECTIONS, duration: 5 });
    const rate = Math.max(1, Math.floor(0.8 * peak.requests.average));
    let unexpected = 0;
    let answered = 0;
    const expect = (status: number) => (s: number) => {
      answered++;
      if (s !== status) unexpected++;
    };
    const databaseUrl = scratch.url;
    if (!databaseUrl) throw new Error('the soak needs PostgreSQL at 127.0.0.1:5432 for its audit store');
    // The peak run's records shipped first: the soak's are counted from here.
    const recordsBefore = await stableCount(() => decisionRecords(databaseUrl));
    const windows: { rss: number; p99: number; errors: number; rps: number }[] = [];
    for (let w = 0; w < WINDOWS; w++) {
      const run: Promise<autocannon.Result> = Promise.resolve(autocannon({
        url,
        connections: CONNECTIONS,
        overallRate: rate,
        duration: Math.max(1, Math.round(SOAK_SECONDS / WINDOWS)),
        requests: [
          { method: 'GET', path: PATH, headers: allowed, onResponse: expect(200) },
          { method: 'GET', path: PATH, headers: allowed, onResponse: expect(200) },
          { method: 'GET', path: PATH, headers: allowed, onResponse: expect(200) },
          { method: 'GET', path: PATH, headers: allowed, onResponse: expect(200) },
          { method: 'GET', path: PATH, headers: refused, onResponse: expect(403) },
        ],
      }));
      const rss = await meanRssWhile(pid, run);
      const r = await run;
      windows.push({ rss, p99: r.latency.p99, errors: r.errors + r.timeouts, rps: r.requests.average });
    }
    // Every answered request has its decision record in the journal (written before its answer).
    // Every answered request has its decision record, shipped to the database once the backlog drains.
    const records = (await stableCount(() => decisionRecords(databaseUrl))) - recordsBefore;
    const first = windows[0] as (typeof windows)[number];
    const last = windows.at(-1) as (typeof windows)[number];
    const errors = unexpected + windows.reduce((n, w) => n + w.errors, 0);
    const growth = last.rss / first.rss - 1;
    const p99Ratio = last.p99 / first.p99;
    const minutes = SOAK_SECONDS / WINDOWS / 60;
    const rows: BenchRow[] = [
      { name: `soak: answers other than expected (200, or 403 for the refused fifth) and transport errors`, value: errors, unit: '', target: '0', pass: errors === 0, note: `${answered} requests at ${rate} req/s (80 % of a ${peak.requests.average.toFixed(0)} req/s peak)` },
      { name: 'soak: RSS growth, mean of the last window over the mean of the first (sampled each second)', value: growth * 100, unit: '%', target: '≤ 10 %', pass: growth <= 0.1, note: `${(first.rss / 2 ** 20).toFixed(0)} → ${(last.rss / 2 ** 20).toFixed(0)} MB; per window ${windows.map((w) => (w.rss / 2 ** 20).toFixed(0)).join(' ')}` },
      { name: `soak: last window's p99 / first window's (windows of ${minutes.toFixed(1)} min)`, value: p99Ratio, unit: '×', target: '≤ 1.5×', pass: p99Ratio <= 1.5, note: `p99 per window (ms): ${windows.map((w) => w.p99).join(' ')}` },
      { name: 'soak: requests answered without a decision record in the audit database', value: Math.max(0, answered - records), unit: '', target: '0', pass: records >= answered, note: `${records} decision records shipped for ${answered} answers` },
    ];
    return {
      title: 'Soak (issue 14)',
      description: `Custodian ${pinned ? 'pinned to core 0' : 'unpinned'}, durable audit shipped to PostgreSQL; ${SOAK_SECONDS / 60} minutes at 80 % of the peak measured just before, ${CONNECTIONS} connections, in ${WINDOWS} windows; one request in five declares a purpose the caller does not hold (403).`,
      rows,
    };
  } finally {
    for (const c of children) c.kill();
    scratch.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}
