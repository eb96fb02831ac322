import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Agent, request } from 'undici';
import { generate } from 'selfsigned';
import { parse, stringify } from 'yaml';
import type { BenchRow, BenchSection } from './results.js';
import { scratchDatabase } from './scratch-database.js';
import { benchToken } from './token.js';

interface Target {
  readonly name: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly pid: number | undefined;
}

const DURATION_SEC = Number(process.env.BENCH_DURATION ?? 5);
const CONNECTIONS = 16;
/**
 * Full load on each target and path before it is measured, so what is measured is the request
 * path V8 has finished compiling — what a gateway that has been up for more than a few seconds
 * runs. Seen on this machine (--trace-opt): Custodian's optimisations continue for ~9 s of full
 * load, and the 2 KB route cost 895–962 µs of CPU per request after a 1 s warm-up against
 * 618–684 µs after 20 s (the bare proxy 136 against 110 µs).
 */
export const WARM_UP_SEC = Number(process.env.BENCH_WARMUP ?? 15);
const SETTLE_MS = 2000;

export function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Start a server script (TypeScript through tsx), optionally pinned to one core; resolve its port. */
export function startServer(script: string, env: Record<string, string>, core: number | undefined): Promise<{ child: ChildProcess; port: number }> {
  const args = ['--import', 'tsx', script];
  const child =
    core === undefined
      ? spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : spawn('taskset', ['-c', String(core), process.execPath, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start`)), 30_000);
    child.once('message', (m: { port: number }) => {
      clearTimeout(timer);
      resolve({ child, port: m.port });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

/** utime + stime of a process in microseconds (Linux /proc). */
export function cpuMicrosOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks / 100) * 1e6; // USER_HZ is 100 on Linux
}

async function load(url: string, headers: Record<string, string>, connections: number, duration: number) {
  return autocannon({ url, headers, connections, duration, pipelining: 1 });
}

/** One keep-alive connection, requests back to back for `seconds`; percentiles in ms. */
async function sequentialLatency(url: string, headers: Record<string, string>, seconds: number) {
  const { samples, errors } = await sequentialLatencySamples(url, headers, seconds);
  return { ...percentiles(samples), errors };
}

function percentiles(unsorted: number[]): { p50: number; p99: number } {
  const samples = [...unsorted].sort((x, y) => x - y);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

/** `connections` keep-alive clients back to back for `seconds`; per-request latency samples. */
async function concurrentSamples(url: string, headers: Record<string, string>, connections: number, seconds: number) {
  const runs = await Promise.all(Array.from({ length: connections }, () => sequentialLatencySamples(url, headers, seconds)));
  return { samples: runs.flatMap((r) => r.samples), errors: runs.reduce((n, r) => n + r.errors, 0) };
}

/**
 * Two targets under the same concurrent load, in alternating rounds (A B A B …) with a pause
 * before each, so that neither always runs in the other's wake (both proxies share one core).
 * Pooled percentiles per target.
 */
async function alternatingLatency(urls: readonly [string, string], headers: Record<string, string>, connections: number, seconds: number, rounds = 4) {
  for (const url of urls) await sequentialLatency(url, headers, 1); // warm-up
  const pooled: [{ samples: number[]; errors: number }, { samples: number[]; errors: number }] = [
    { samples: [], errors: 0 },
    { samples: [], errors: 0 },
  ];
  for (let round = 0; round < rounds; round++) {
    for (const [i, url] of urls.entries()) {
      await new Promise((r) => setTimeout(r, SETTLE_MS / 2));
      const run = await concurrentSamples(url, headers, connections, seconds / rounds);
      const target = pooled[i as 0 | 1];
      target.samples.push(...run.samples);
      target.errors += run.errors;
    }
  }
  return [
    { ...percentiles(pooled[0].samples), errors: pooled[0].errors },
    { ...percentiles(pooled[1].samples), errors: pooled[1].errors },
  ] as const;
}

async function sequentialLatencySamples(url: string, headers: Record<string, string>, seconds: number) {
  const dispatcher = new Agent({ connections: 1, connect: { rejectUnauthorized: false } });
  const samples: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  try {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const res = await request(url, { headers, dispatcher });
      await res.body.arrayBuffer();
      samples.push(performance.now() - t0);
      if (res.statusCode !== 200) errors++;
    }
  } finally {
    await dispatcher.close();
  }
  return { samples, errors };
}

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  /** p99 of the throughput phase (CONNECTIONS connections). */
  p99Loaded: number;
  cpuUsPerReq: number | undefined;
  errors: number;
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/**
 * The targets measured side by side on one path, interleaved: after a warm-up each, ROUNDS rounds
 * in which every target gets a throughput phase in turn (the order rotating each round), so a
 * noisy neighbour on this shared machine during one phase moves one sample, not a whole ratio.
 * Requests/s and loaded p99 are the medians of the rounds; CPU per request is over all of them.
 * Then, once the audit backlog has settled, a one-connection latency phase each.
 */
async function measureAll(targets: readonly Target[], path: string): Promise<Measured[]> {
  const phase = Math.max(2, Math.round(DURATION_SEC / 2));
  for (const target of targets) await load(`${target.url}${path}`, target.headers, CONNECTIONS, WARM_UP_SEC); // JIT, pools, token cache
  const samples = targets.map(() => ({ rps: [] as number[], p99: [] as number[], cpu: 0, requests: 0, errors: 0 }));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < targets.length; k++) {
      const i = (k + round) % targets.length;
      const target = targets[i] as Target;
      const sample = samples[i] as (typeof samples)[number];
      const cpuBefore = target.pid ? cpuMicrosOf(target.pid) : 0;
      const throughput = await load(`${target.url}${path}`, target.headers, CONNECTIONS, phase);
      sample.cpu += target.pid ? cpuMicrosOf(target.pid) - cpuBefore : 0;
      sample.requests += throughput.requests.total;
      sample.rps.push(throughput.requests.average);
      sample.p99.push(throughput.latency.p99);
      sample.errors += throughput.errors + throughput.non2xx;
    }
  }
  // Let work the load left behind (Custodian ships its audit backlog to the database) finish,
  // so the latency phase measures a request, not the tail of the throughput phase.
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const results: Measured[] = [];
  for (const [i, target] of targets.entries()) {
    // Latency at low concurrency (one request at a time, sub-millisecond timer): what one request
    // costs, not queueing under saturation.
    const latency = await sequentialLatency(`${target.url}${path}`, target.headers, phase);
    const sample = samples[i] as (typeof samples)[number];
    results.push({
      rps: median(sample.rps),
      p50: latency.p50,
      p99: latency.p99,
      p99Loaded: median(sample.p99),
      cpuUsPerReq: target.pid && sample.requests > 0 ? sample.cpu / sample.requests : undefined,
      errors: sample.errors + latency.errors,
    });
  }
  return results;
}

/**
 * What a single-gateway measurement starts from: the bench upstream in its own process (not
 * pinned), a certificate for the proxies, and the bench policy written into `dir`, whose caller's
 * token is returned.
 */
export async function benchFixture(dir: string, databaseUrl: string | undefined): Promise<{ pems: { cert: string; private: string }; upstream: ChildProcess; upstreamPort: number; token: string }> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', algorithm: 'sha256' });
  const { child: upstream, port: upstreamPort } = await startServer('bench/servers/upstream.ts', {}, undefined);
  const token = await benchPolicy(dir, upstreamPort, pems.cert, pems.private, databaseUrl);
  return { pems, upstream, upstreamPort, token };
}

export async function benchPolicy(dir: string, upstreamPort: number, cert: string, key: string, databaseUrl: string | undefined): Promise<string> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'server.pem'), cert);
  writeFileSync(join(dir, 'server-key.pem'), key);
  writeFileSync(join(dir, 'issuer.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'checkpoint.pem'), generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
  // The demo's data dictionary and the credit-assessment view: realistic masking work.
  const demo = parse(readFileSync('config/demo.yaml', 'utf8'));
  const config = {
    listen: { data: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    tls: { cert: { file: 'server.pem' }, key: { file: 'server-key.pem' } },
    upstreams: { bench: { url: `http://127.0.0.1:${upstreamPort}`, allowPlaintext: true } },
    auth: { issuers: [{ id: 'bench', issuer: 'https://idp.bench', audience: 'custodian', algorithms: ['ES256'], keys: [{ key: { file: 'issuer.pem' } }] }] },
    purposes: demo.purposes,
    classification: demo.classification,
    masking: demo.masking,
    routes: [
      { id: 'bench', method: 'GET', path: '/api/customers/:size', upstream: 'bench', purposes: ['customer_service'], subjects: [{ jsonPath: '$.items[*].id' }] },
      // Pass-through: authenticated, purpose-checked and recorded, the body not masked (a document).
      { id: 'documents', method: 'GET', path: '/api/documents/:size', upstream: 'bench', purposes: ['customer_service'], passthrough: ['customer_service'] },
    ],
    audit: { durability: 'before_release', checkpoint: { key: { file: 'checkpoint.pem' } } },
    // Production mode signs its policy by default; the bench measures requests, not signing.
    policy: { requireSignature: false },
    // As in production: the audit store is a PostgreSQL server of its own (the embedded PGlite
    // would run its WASM database inside the pinned gateway process).
    ...(databaseUrl ? { store: { databaseUrl } } : {}),
  };
  writeFileSync(join(dir, 'custodian.yaml'), stringify(config));
  // The same pipeline with async audit: the difference is what record-before-release costs.
  writeFileSync(join(dir, 'custodian-async.yaml'), stringify({ ...config, audit: { ...config.audit, durability: 'async' } }));
  return benchToken(privateKey, 'bench-agent');
}

/**
 * Side by side in one run: the upstream directly, a bare @fastify/http-proxy, and Custodian's
 * full pipeline (JWT cache hit + purpose + masking), each proxy pinned to core 0 while the load
 * generator and upstream share core 1. Load goes only to 127.0.0.1 and each phase is time-bound.
 */
export async function benchProxy(): Promise<BenchSection> {
  const pinned = hasTaskset();
  if (pinned) execFileSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const dir = mkdtempSync(join(tmpdir(), 'custodian-bench-'));
  const children: ChildProcess[] = [];
  const cleanups: (() => void)[] = [];
  try {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', algorithm: 'sha256' });
    const upstream = await startServer('bench/servers/upstream.ts', {}, pinned ? 1 : undefined);
    children.push(upstream.child);
    const bare = await startServer('bench/servers/bare-proxy.ts', { BENCH_UPSTREAM: `http://127.0.0.1:${upstream.port}`, BENCH_CERT: pems.cert, BENCH_KEY: pems.private }, pinned ? 0 : undefined);
    children.push(bare.child);
    const scratch = scratchDatabase();
    cleanups.push(scratch.drop);
    const token = await benchPolicy(dir, upstream.port, pems.cert, pems.private, scratch.url);
    const custodian = await startServer('bench/servers/custodian.ts', { BENCH_DIR: dir, BENCH_CONFIG: 'custodian' }, pinned ? 0 : undefined);
    children.push(custodian.child);
    const custodianPid = Number(readFileSync(join(dir, 'custodian.pid'), 'utf8'));
    const custodianAsync = await startServer('bench/servers/custodian.ts', { BENCH_DIR: dir, BENCH_CONFIG: 'custodian-async' }, pinned ? 0 : undefined);
    children.push(custodianAsync.child);
    const recorded = await startServer('bench/servers/recorded-proxy.ts', { BENCH_UPSTREAM: `http://127.0.0.1:${upstream.port}`, BENCH_CERT: pems.cert, BENCH_KEY: pems.private, BENCH_DIR: dir }, pinned ? 0 : undefined);
    children.push(recorded.child);
    const floorTarget: Target = { name: 'floor: bare proxy + durable record', url: `https://127.0.0.1:${recorded.port}`, headers: {}, pid: recorded.child.pid };
    const recordedParse = await startServer('bench/servers/recorded-proxy.ts', { BENCH_UPSTREAM: `http://127.0.0.1:${upstream.port}`, BENCH_CERT: pems.cert, BENCH_KEY: pems.private, BENCH_DIR: dir, BENCH_FLOOR_PARSE: '1' }, pinned ? 0 : undefined);
    children.push(recordedParse.child);
    const parseFloorTarget: Target = { name: 'floor: + parse and serialise', url: `https://127.0.0.1:${recordedParse.port}`, headers: {}, pid: recordedParse.child.pid };

    const targets: Target[] = [
      { name: 'direct upstream (HTTP)', url: `http://127.0.0.1:${upstream.port}`, headers: {}, pid: undefined },
      { name: 'bare @fastify/http-proxy (HTTPS)', url: `https://127.0.0.1:${bare.port}`, headers: {}, pid: bare.child.pid },
      { name: 'Custodian full pipeline (HTTPS)', url: `https://127.0.0.1:${custodian.port}`, headers: { authorization: `Bearer ${token}`, 'x-purpose': 'customer_service' }, pid: custodianPid },
    ];
    const rows: BenchRow[] = [];
    for (const [size, path, rpsTarget, p50Target] of [
      ['2 KB', '/api/customers/small', 0.5, 0.3],
      ['50 KB', '/api/customers/large', 0.35, undefined],
    ] as const) {
      const all = await measureAll([...targets, floorTarget, parseFloorTarget], path);
      const results = all.slice(0, targets.length);
      const [direct, bareResult, full, recordedFloor, parseFloor] = all as [Measured, Measured, Measured, Measured, Measured];
      // The guarantee's own floor, measured beside them: what recording every request durably
      // before release costs a proxy that does nothing else.
      const floorRow = (what: string, floor: Measured): BenchRow => ({
        name: `${size}: floor — ${what} / bare proxy requests/s`,
        value: floor.rps / bareResult.rps,
        unit: '×',
        target: '(baseline)',
        pass: undefined,
        note: `${floor.rps.toFixed(0)} vs ${bareResult.rps.toFixed(0)} req/s; CPU per request ${floor.cpuUsPerReq?.toFixed(0)} vs ${bareResult.cpuUsPerReq?.toFixed(0)} µs; p50 1 connection +${(floor.p50 - bareResult.p50).toFixed(2)} ms; p99 under ${CONNECTIONS} connections ${floor.p99Loaded.toFixed(0)} vs ${bareResult.p99Loaded.toFixed(0)} ms (${(floor.p99Loaded / bareResult.p99Loaded).toFixed(1)}×)${floor.errors ? `; ${floor.errors} errors` : ''}`,
      });
      rows.push(floorRow('bare proxy + one durable record per request held before release, shipped (no policy, no masking)', recordedFloor));
      rows.push(floorRow('the same + JSON.parse and JSON.stringify of the body (what masking by parsing cannot avoid)', parseFloor));
      for (const [i, r] of results.entries()) {
        rows.push({ name: `${size}: ${targets[i]?.name} requests/s (${CONNECTIONS} connections)`, value: r.rps, unit: 'req/s', target: '—', pass: undefined, note: r.errors ? `${r.errors} errors` : undefined });
      }
      const ratio = full.rps / bareResult.rps;
      rows.push({ name: `${size}: Custodian / bare proxy requests/s`, value: ratio, unit: '×', target: `≥ ${rpsTarget}×`, pass: ratio >= rpsTarget && full.errors === 0 });
      const addedP50 = full.p50 - bareResult.p50;
      rows.push({ name: `${size}: added p50 latency vs bare proxy (1 connection)`, value: addedP50, unit: 'ms', target: p50Target === undefined ? '—' : `≤ ${p50Target} ms`, pass: p50Target === undefined ? undefined : addedP50 <= p50Target });
      rows.push({ name: `${size}: added p99 latency vs bare proxy (1 connection)`, value: full.p99 - bareResult.p99, unit: 'ms', target: '—', pass: undefined });
      const f = (n: number) => n.toFixed(2);
      rows.push({ name: `${size}: p50 / p99 latency (ms) direct ${f(direct.p50)}/${f(direct.p99)} · bare ${f(bareResult.p50)}/${f(bareResult.p99)} · Custodian`, value: full.p50, unit: `/ ${f(full.p99)} ms`, target: '—', pass: undefined });
      rows.push({ name: `${size}: CPU per request, bare proxy`, value: bareResult.cpuUsPerReq ?? Number.NaN, unit: 'µs', target: '—', pass: undefined });
      rows.push({ name: `${size}: CPU per request, Custodian`, value: full.cpuUsPerReq ?? Number.NaN, unit: 'µs', target: '—', pass: undefined });
      if (size === '2 KB') {
        const p99Ratio = full.p99Loaded / bareResult.p99Loaded;
        rows.push({ name: `2 KB: p99 under ${CONNECTIONS} connections, Custodian vs bare proxy (${f(full.p99Loaded)} vs ${f(bareResult.p99Loaded)} ms)`, value: p99Ratio, unit: '×', target: '≤ 2×', pass: p99Ratio <= 2 });
      }
    }
    // Pass-through: a 2 KB document (not JSON) on a route that releases it unmasked for the
    // purpose — authentication, purpose, governance and the durable record, no body transform.
    const documents = '/api/documents/small';
    const [bareDocs, fullDocs, recordedDocs] = (await measureAll([targets[1] as Target, targets[2] as Target, floorTarget], documents)) as [Measured, Measured, Measured];
    const passRatio = fullDocs.rps / bareDocs.rps;
    rows.push({
      name: 'pass-through route (2 KB, authenticated, purpose-checked, recorded, not masked): Custodian / bare proxy requests/s',
      value: passRatio,
      unit: '×',
      target: '≥ 0.7×',
      pass: passRatio >= 0.7 && fullDocs.errors === 0,
      note: `${fullDocs.rps.toFixed(0)} vs ${bareDocs.rps.toFixed(0)} req/s; CPU per request ${fullDocs.cpuUsPerReq?.toFixed(0)} vs ${bareDocs.cpuUsPerReq?.toFixed(0)} µs; the recorded floor on this route: ${(recordedDocs.rps / bareDocs.rps).toFixed(2)}× (${recordedDocs.rps.toFixed(0)} req/s)`,
    });
    // Record before release under load: the same pipeline with durable vs async audit, 8
    // concurrent keep-alive clients, per-request latency with a sub-millisecond timer.
    const headers = targets[2]?.headers ?? {};
    const [durable, async] = await alternatingLatency(
      [`https://127.0.0.1:${custodian.port}/api/customers/small`, `https://127.0.0.1:${custodianAsync.port}/api/customers/small`],
      headers,
      8,
      2 * DURATION_SEC,
    );
    const added = durable.p50 - async.p50;
    rows.push({ name: '2 KB under load (8 connections): p50 with durable audit', value: durable.p50, unit: 'ms', target: '—', pass: undefined });
    rows.push({ name: '2 KB under load (8 connections): p50 with async audit', value: async.p50, unit: 'ms', target: '—', pass: undefined });
    rows.push({ name: 'record-before-release: added p50 under load', value: added, unit: 'ms', target: '≤ 0.5 ms', pass: added <= 0.5 && durable.errors === 0 });
    return {
      title: 'Proxy throughput and latency (issues 4, 5 and 6)',
      description: `${pinned ? 'Each proxy pinned to core 0 (taskset); load generator (autocannon) and upstream on core 1.' : 'taskset unavailable: processes not pinned.'} throughput with ${CONNECTIONS} connections in ${ROUNDS} interleaved rounds of ${Math.max(2, Math.round(DURATION_SEC / 2))} s per target after a ${WARM_UP_SEC} s warm-up each (so that V8 has finished compiling the request path; medians of the rounds; CPU over all of them); latency from a separate 1-connection phase, 2 s after the throughput phase (the audit backlog it left has been shipped). Custodian runs the demo dictionary and the customer-service view (names, IDs, mobiles, cards masked; detectors on remarks). Custodian includes durable audit (decision record fsync'd before release, shipped to a PostgreSQL database on this machine); a second Custodian with async audit isolates the record-before-release cost (the two measured in alternating rounds, 8 connections, samples pooled).`,
      rows,
    };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    for (const cleanup of cleanups) cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}
