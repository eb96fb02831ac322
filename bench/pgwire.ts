import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { silentLogger } from '../src/logging.js';
import { startGateway } from '../src/server.js';
import type { BenchRow, BenchSection } from './results.js';
import { journalRate } from './audit.js';
import { startBarePgRelay } from './bare-pg-relay.js';
import { scratchDatabase } from './scratch-database.js';
import { benchToken } from './token.js';

const DURATION_SEC = Number(process.env.BENCH_DURATION ?? 5);
const CLIENTS = Number(process.env.BENCH_PG_CLIENTS ?? 4);

const execFileAsync = promisify(execFile);

/**
 * pgbench for DURATION_SEC; transactions per second (excluding connection time). Asynchronous:
 * the gateway runs in this process and must keep serving while pgbench runs.
 */
async function pgbench(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { stdout: out } = await execFileAsync('pgbench', ['-n', '-T', String(DURATION_SEC), '-c', String(CLIENTS), '-j', '2', ...args], { env, encoding: 'utf8' });
  const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
  if (failed > 0) throw new Error(`pgbench: ${failed} failed transactions`);
  return Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1] ?? 0);
}

/**
 * The PostgreSQL front end against the machine's PostgreSQL, side by side in one run: pgbench
 * directly and through the gateway (select-only, prepared and simple protocol), and a 100-row
 * range select whose text column is masked. The gateway runs in this process, so its CPU per
 * released row is this process's CPU over the rows pgbench received.
 */
export async function benchPgwire(): Promise<BenchSection> {
  const scratch = scratchDatabase();
  if (!scratch.url) throw new Error('the pgwire bench needs PostgreSQL at 127.0.0.1:5432');
  const dir = mkdtempSync(join(tmpdir(), 'custodian-bench-pgwire-'));
  try {
    execFileSync('pgbench', ['-i', '-s', '1', '-q', '-n', scratch.url], { stdio: 'ignore' });
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', algorithm: 'sha256' });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'server.pem'), pems.cert);
    writeFileSync(join(dir, 'server-key.pem'), pems.private);
    writeFileSync(join(dir, 'issuer.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'checkpoint.pem'), generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const demo = parse(readFileSync('config/demo.yaml', 'utf8'));
    writeFileSync(
      join(dir, 'custodian.yaml'),
      stringify({
        listen: { data: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
        tls: { cert: { file: 'server.pem' }, key: { file: 'server-key.pem' } },
        upstreams: { unused: { url: 'http://127.0.0.1:9', allowPlaintext: true } },
        routes: [{ id: 'unused', method: 'GET', path: '/unused', upstream: 'unused', purposes: ['customer_service'] }],
        auth: { issuers: [{ id: 'bench', issuer: 'https://idp.bench', audience: 'custodian', algorithms: ['ES256'], keys: [{ key: { file: 'issuer.pem' } }] }] },
        purposes: demo.purposes,
        classification: demo.classification,
        masking: demo.masking,
        audit: { durability: process.env.BENCH_AUDIT ?? 'before_release', checkpoint: { key: { file: 'checkpoint.pem' } } },
        store: { databaseUrl: scratch.url },
        policy: { requireSignature: false },
        database: {
          listen: { host: '127.0.0.1', port: 0 },
          upstream: { url: scratch.url, allowPlaintext: true },
          purposes: ['customer_service'],
          // pgbench's accounts as a customer table whose text column is masked (name preset).
          tables: { pgbench_accounts: { columns: { aid: 'id', bid: 'loanId', abalance: 'amount', filler: 'name' } }, pgbench_branches: { columns: { bid: 'id', bbalance: 'amount', filler: 'remarks' } } },
        },
      }),
    );
    const gateway = await startGateway(loadConfig(join(dir, 'custodian.yaml')), { logger: silentLogger(), varDir: join(dir, 'var') });
    try {
      const token = await benchToken(privateKey, 'bench-analyst');
      const url = new URL(scratch.url);
      const direct = { ...process.env, PGHOST: '127.0.0.1', PGPORT: url.port, PGUSER: 'postgres', PGDATABASE: url.pathname.slice(1) };
      const through = {
        ...process.env,
        PGHOST: '127.0.0.1',
        PGPORT: String(gateway.databasePort),
        PGUSER: 'bench',
        PGDATABASE: 'loans',
        PGPASSWORD: token,
        PGSSLMODE: 'require',
        PGOPTIONS: '-c custodian.purpose=customer_service',
      };
      const range = join(dir, 'range.sql');
      writeFileSync(range, '\\set a random(1, 99900)\nSELECT aid, abalance, filler FROM pgbench_accounts WHERE aid BETWEEN :a AND :a + 99;\n');
      const rows: BenchRow[] = [];
      const ratio = async (name: string, args: string[], target: number, note?: string) => {
        const d = await pgbench(args, direct);
        const before = process.cpuUsage();
        const g = await pgbench(args, through);
        const cpu = process.cpuUsage(before);
        const r = g / d;
        rows.push({ name, value: r, unit: '×', target: `≥ ${target}×`, pass: r >= target, note: note ?? `${g.toFixed(0)} vs ${d.toFixed(0)} tps; gateway CPU ${((cpu.user + cpu.system) / (g * DURATION_SEC)).toFixed(0)} µs per transaction` });
        return { tps: g, cpuUs: cpu.user + cpu.system };
      };
      const bare = await startBarePgRelay(Number(url.port), pems.cert, pems.private);
      try {
        const bareEnv = { ...direct, PGPORT: String(bare.port), PGSSLMODE: 'require' };
        const d = await pgbench(['-S', '-M', 'prepared'], direct);
        const before = process.cpuUsage();
        const b = await pgbench(['-S', '-M', 'prepared'], bareEnv);
        const cpu = process.cpuUsage(before);
        rows.push({
          name: 'floor: pgbench -S -M prepared through a bare TLS byte relay in Node vs direct',
          value: b / d,
          unit: '×',
          target: '(baseline)',
          pass: true,
          note: `${b.toFixed(0)} vs ${d.toFixed(0)} tps; relay CPU ${((cpu.user + cpu.system) / (b * DURATION_SEC)).toFixed(0)} µs per transaction`,
        });
        // With durable records each client waits on an fdatasync per statement: the journal
        // alone, with one appender per client, caps the statements per second.
        const appends = await journalRate(DURATION_SEC, CLIENTS);
        rows.push({
          name: `floor: durable journal appends alone, ${CLIENTS} appenders (one per client) vs direct pgbench -S -M prepared`,
          value: appends / d,
          unit: '×',
          target: '(baseline)',
          pass: true,
          note: `${appends.toFixed(0)} records/s vs ${d.toFixed(0)} tps: a durable record per statement caps tps here, whatever the gateway does`,
        });
      } finally {
        bare.server.close();
      }
      await ratio('pgbench -S -M prepared through the listener vs direct', ['-S', '-M', 'prepared'], 0.5);
      await ratio('pgbench -S -M simple through the listener vs direct', ['-S', '-M', 'simple'], 0.4);
      const masked = await ratio('100-row masked range select vs direct', ['-M', 'prepared', '-f', range], 0.4);
      const rowsReleased = masked.tps * DURATION_SEC * 100;
      const perRow = masked.cpuUs / rowsReleased;
      rows.push({
        name: 'gateway CPU per masked DataRow',
        value: perRow,
        unit: 'µs',
        target: '≤ 1 µs',
        pass: perRow <= 1,
        note: `all gateway CPU of the 100-row run over the rows released, statement handling and records included`,
      });
      return {
        title: 'PostgreSQL front end',
        description: `pgbench (${CLIENTS} clients, ${DURATION_SEC} s each) against the machine's PostgreSQL, directly and through the gateway's listener (TLS, token, purpose, statement policy, masking, a durable decision record per statement), one after the other in this run.`,
        rows,
      };
    } finally {
      await gateway.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    scratch.drop();
  }
}
