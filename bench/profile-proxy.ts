/**
 * Where Custodian's CPU goes per request, measured in the running gateway: the bench policy
 * (as bench/proxy.ts), the gateway in this process under the V8 sampling profiler while
 * autocannon sends the 2 KB (or BENCH_PROFILE_PATH) request for BENCH_DURATION seconds from
 * another process. Gives CPU per request and its split by pipeline stage (the profile's
 * samples attributed to the innermost src/ module on their stack, or to Node's TLS/HTTP/stream
 * internals); BENCH_PROFILE_OUT keeps the profile for a closer look in DevTools.
 *
 *   BENCH_ONLY=stages npm run bench      (part of the full run)
 *   npx tsx bench/profile-proxy.ts       (printed; BENCH_AUDIT=async leaves out the fsync;
 *                                         BENCH_FROM_BUILD=1 profiles the build, with source lines)
 */
import { spawnSync } from 'node:child_process';
import fastifyHttpProxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import { Session } from 'node:inspector/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { silentLogger } from '../src/logging.js';
import { startGateway } from '../src/server.js';
import { loadFromProcess } from './load-process.js';
import { buildUrl, type CostlyLine, costlyLines } from './profile-lines.js';
import { benchFixture, WARM_UP_SEC } from './proxy.js';
import type { BenchSection } from './results.js';
import { scratchDatabase } from './scratch-database.js';

const seconds = Number(process.env.BENCH_DURATION ?? 5);
const path = process.env.BENCH_PROFILE_PATH ?? '/api/customers/small';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
  hitCount?: number;
  positionTicks?: { line: number; ticks: number }[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The baseline, in this process: a bare @fastify/http-proxy over the same TLS. */
async function bareProxy(upstreamPort: number, cert: string, key: string) {
  const app = Fastify({ https: { cert, key }, logger: false });
  await app.register(fastifyHttpProxy, { upstream: `http://127.0.0.1:${upstreamPort}` });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return { dataUrl: `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, close: () => app.close() };
}

/**
 * The stage a sample belongs to, walking its stack from the leaf: Node's TLS, HTTP, socket and
 * stream internals and undici are their own parts even when a Custodian stage called them (the
 * response write happens inside the audit stage's callback, for instance, and is the same work
 * a bare proxy does); otherwise the innermost src/ module.
 */
function stageOf(stack: ProfileNode[]): string {
  if (stack[0]?.callFrame.functionName === '(garbage collector)') return '(garbage collector)';
  for (const node of stack) {
    const url = node.callFrame.url;
    if (url.startsWith(buildUrl)) return `src/${url.slice(buildUrl.length).replace(/\.js$/, '')}`;
    const m = /\/src\/([^?]+)\.ts/.exec(url);
    if (m) return `src/${m[1]}`;
    if (/node:(_tls|tls|internal\/tls)/.test(url)) return 'node: TLS';
    if (/node:(_http|http|internal\/http)|\/fastify\/|find-my-way|light-my-request|@fastify\//.test(url)) return 'node/fastify: HTTP';
    if (/undici/.test(url)) return 'undici (upstream leg)';
    if (/node:(net|internal\/stream|internal\/streams|stream)/.test(url)) return 'node: sockets and streams';
    if (/prom-client/.test(url)) return 'prom-client';
    if (/\/pg\/|pg-protocol/.test(url)) return 'pg (store client)';
  }
  return `other: ${stack[0]?.callFrame.functionName || '(anonymous)'}`;
}

export interface StageProfile {
  readonly requests: number;
  /** Process CPU (all threads) per request, µs. */
  readonly perRequest: number;
  /** Sampled main-thread CPU per request, µs (what the stages split). */
  readonly mainThread: number;
  /** Event-loop delay during the load, ms. */
  readonly loop: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly stages: readonly { stage: string; us: number }[];
  /** The costliest source lines (only when the gateway ran from its build). */
  readonly lines: readonly CostlyLine[];
}

/** What to profile: Custodian (the default) or the bare proxy, at full load or at a fixed request rate. */
export interface ProfileTarget {
  readonly target?: 'custodian' | 'bare';
  /** Requests per second autocannon sends (-R); full load when absent. */
  readonly rate?: number;
  /**
   * Run Custodian from its build (dist/, which the caller has just built) rather than through tsx,
   * so that samples carry source lines.
   */
  readonly fromBuild?: boolean;
}

/** The gateway's entry points, from src/ (through tsx) or from the build. */
async function gatewayModules(fromBuild: boolean): Promise<{ loadConfig: typeof loadConfig; silentLogger: typeof silentLogger; startGateway: typeof startGateway }> {
  if (!fromBuild) return { loadConfig, silentLogger, startGateway };
  const load = (await import(`${buildUrl}config/load.js`)) as { loadConfig: typeof loadConfig };
  const logging = (await import(`${buildUrl}logging.js`)) as { silentLogger: typeof silentLogger };
  const server = (await import(`${buildUrl}server.js`)) as { startGateway: typeof startGateway };
  return { loadConfig: load.loadConfig, silentLogger: logging.silentLogger, startGateway: server.startGateway };
}

export async function profileStages(options: ProfileTarget = {}): Promise<StageProfile> {
  const target = options.target ?? (process.env.BENCH_PROFILE_TARGET === 'bare' ? 'bare' : 'custodian');
  const dir = mkdtempSync(join(tmpdir(), 'custodian-profile-'));
  const scratch = scratchDatabase();
  try {
    const { pems, upstream, upstreamPort, token } = await benchFixture(dir, scratch.url);
    const name = process.env.BENCH_AUDIT === 'async' ? 'custodian-async' : 'custodian';
    // BENCH_PROFILE_TARGET=bare profiles the bare @fastify/http-proxy the same way, for comparison.
    const modules = await gatewayModules(options.fromBuild ?? false);
    const gateway =
      target === 'bare'
        ? await bareProxy(upstreamPort, pems.cert, pems.private)
        : await modules.startGateway(modules.loadConfig(join(dir, `${name}.yaml`)), { logger: modules.silentLogger(), varDir: join(dir, 'var') });
    const url = `${gateway.dataUrl}${path}`;
    const headers = [`authorization=Bearer ${token}`, 'x-purpose=customer_service'];
    const cannon = (duration: number) => loadFromProcess(url, { seconds: duration }, { headers, rate: options.rate });
    await cannon(WARM_UP_SEC); // until V8 has finished compiling the request path (see bench/proxy.ts)
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    // BENCH_PROFILE_OFF=1: CPU per request without the sampler's own overhead (no stage split).
    if (!process.env.BENCH_PROFILE_OFF) await session.post('Profiler.start');
    // Event-loop delay under the load: a request waits behind whatever one turn of the loop runs
    // synchronously (a shipping batch, a GC pause), which is what its p99 under load is made of.
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const before = process.cpuUsage();
    const requests = await cannon(seconds);
    const cpu = process.cpuUsage(before);
    loopDelay.disable();
    const { profile } = process.env.BENCH_PROFILE_OFF ? { profile: { nodes: [], samples: [], timeDeltas: [] } as Profile } : ((await session.post('Profiler.stop')) as unknown as { profile: Profile });
    if (process.env.BENCH_PROFILE_OUT) writeFileSync(process.env.BENCH_PROFILE_OUT, JSON.stringify(profile));
    const perRequest = (cpu.user + cpu.system) / requests;

    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const stages = new Map<string, number>();
    const selfUs = new Map<number, number>();
    let busy = 0;
    profile.samples.forEach((id, i) => {
      const node = byId.get(id) as ProfileNode;
      if (node.callFrame.functionName === '(idle)') return;
      const dt = profile.timeDeltas[i] ?? 0;
      selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
      const stack: ProfileNode[] = [];
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) stack.push(byId.get(cur) as ProfileNode);
      const stage = stageOf(stack);
      stages.set(stage, (stages.get(stage) ?? 0) + dt);
      busy += dt;
    });
    await gateway.close();
    upstream.kill();
    const loop = { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
    return {
      requests,
      perRequest,
      mainThread: busy / requests,
      loop,
      stages: [...stages].sort((a, b) => b[1] - a[1]).map(([stage, t]) => ({ stage, us: t / requests })),
      lines: costlyLines(profile.nodes, selfUs, requests, 15),
    };
  } finally {
    scratch.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The stages in six groups, so the gap to the bare proxy is attributed: the parts every proxy
 * has (Node's TLS, HTTP, sockets and streams, undici), the access records, the decision, the
 * masking, the glue and telemetry around them, and the garbage collector.
 */
const GROUPS: readonly { readonly name: string; readonly test: (stage: string) => boolean }[] = [
  { name: 'what every proxy does: Node TLS, HTTP, sockets and streams, fastify, undici', test: (s) => s.startsWith('node') || s.startsWith('undici') },
  { name: 'access records: build, chain, journal, ship (src/audit, src/store, pg, access-record)', test: (s) => /^src\/(audit|store)\/|^src\/http\/(audit|access-record)$|^pg /.test(s) },
  { name: 'decision: authenticate, route, purpose, governance (src/pipeline, auth, policy, governance)', test: (s) => /^src\/(pipeline|auth|policy|governance)\/|^src\/http\/(decide|governance|request-state)$/.test(s) },
  { name: 'masking: parse, view, detectors, serialise (src/mask, http/transform, response headers)', test: (s) => /^src\/mask\/|^src\/http\/transform$|^src\/upstream\/response-header-policy$/.test(s) },
  { name: 'glue and telemetry: hooks, upstream headers, metrics, log line', test: (s) => /^src\/|^prom-client$/.test(s) },
  { name: 'garbage collector', test: (s) => s === '(garbage collector)' },
];

function grouped(stages: StageProfile['stages']): { name: string; us: number }[] {
  const totals = GROUPS.map((g) => ({ name: g.name, us: 0 }));
  let other = 0;
  for (const { stage, us } of stages) {
    const i = GROUPS.findIndex((g) => g.test(stage));
    if (i < 0) other += us;
    else (totals[i] as { us: number }).us += us;
  }
  return [...totals, { name: 'other (V8 and Node internals outside any stage)', us: other }];
}

/**
 * The stage split as a bench section: µs of main-thread CPU per request, grouped and then stage
 * by stage, largest first; beside it the bare proxy profiled the same way at Custodian's request
 * rate (a proxy's own per-request cost grows as its load falls: fewer requests share each wake-up
 * of the event loop, so its cost at full load is not what the same work costs at Custodian's rate).
 */
export async function benchStages(): Promise<BenchSection> {
  // Custodian runs from a fresh build of this tree, for line positions (see profile-lines.ts).
  buildGateway();
  const p = await profileStages({ fromBuild: true });
  const bare = await profileStages({ target: 'bare', rate: p.requests / seconds });
  const bareFull = await profileStages({ target: 'bare' });
  const shown = p.stages.filter((s) => s.us >= 5);
  const rest = p.stages.filter((s) => s.us < 5).reduce((n, s) => n + s.us, 0);
  const bareNode = grouped(bare.stages)[0]?.us ?? Number.NaN;
  const bareFullNode = grouped(bareFull.stages)[0]?.us ?? Number.NaN;
  const row = (name: string, us: number) => ({ name, value: us, unit: 'µs/request', target: '—', pass: undefined });
  return {
    title: 'CPU budget per stage (issue 14)',
    description: `The gateway in one process under the V8 sampling profiler while autocannon (16 connections, another process) sends the 2 KB masked request for ${seconds} s after ${WARM_UP_SEC} s of warm-up, durable audit to PostgreSQL. Process CPU (all threads: the journal's fdatasync and GC run off the main thread) ${p.perRequest.toFixed(0)} µs per request at ${(p.requests / seconds).toFixed(0)} req/s; the main thread's ${p.mainThread.toFixed(0)} µs split by stage — each sample goes to the innermost src/ module on its stack, except that Node's TLS, HTTP, socket and stream work and undici's count as Node's own parts even when a Custodian stage called them (the same work a bare proxy does; it runs under the stage that releases the response). The bare @fastify/http-proxy profiled the same way: ${bareFull.mainThread.toFixed(0)} µs of main thread per request at full load (${(bareFull.requests / seconds).toFixed(0)} req/s; process ${bareFull.perRequest.toFixed(0)} µs), ${bare.mainThread.toFixed(0)} µs when held to Custodian's rate (process ${bare.perRequest.toFixed(0)} µs). Method: bench/profile-proxy.ts.`,
    rows: [
      ...grouped(p.stages).map((g) => row(`group: ${g.name}`, g.us)),
      row('the bare proxy at Custodian’s request rate: the same Node, fastify and undici parts (what Custodian’s first group would cost with nothing else to do)', bareNode),
      row('the bare proxy at its own full load: the same parts', bareFullNode),
      ...shown.map((s) => row(s.stage, s.us)),
      row(`${p.stages.length - shown.length} other stages under 5 µs each`, rest),
      // A table cell cannot hold a bare |: the code is shown with it escaped.
      ...p.lines.map((l) => row(`line ${l.where}: \`${l.code.replaceAll('|', '\\|')}\``, l.us)),
    ],
  };
}

/** Compile src/ into dist/ (what `npm run build` does), so the profiled build is this tree. */
function buildGateway(): void {
  const built = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (built.status !== 0) throw new Error('the build for the line profile failed');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // BENCH_FROM_BUILD=1: build first and run the gateway from dist/, and print its costliest lines.
  const fromBuild = process.env.BENCH_FROM_BUILD === '1';
  if (fromBuild) buildGateway();
  // BENCH_PROFILE_RATE=n: hold the load to n requests/s (the bare proxy at Custodian's rate).
  const rate = process.env.BENCH_PROFILE_RATE ? Number(process.env.BENCH_PROFILE_RATE) : undefined;
  const p = await profileStages({ fromBuild, rate });
  console.log(`${p.requests} requests in ${seconds} s; gateway process CPU ${p.perRequest.toFixed(0)} µs per request (main thread ${p.mainThread.toFixed(0)} µs sampled)`);
  console.log(`event-loop delay under load: p50 ${p.loop.p50.toFixed(2)} ms, p99 ${p.loop.p99.toFixed(2)} ms, max ${p.loop.max.toFixed(2)} ms`);
  for (const { stage, us } of p.stages.slice(0, 30)) console.log(`${us.toFixed(1).padStart(8)} µs  ${stage}`);
  for (const { where, code, us } of p.lines) console.log(`${us.toFixed(1).padStart(8)} µs  ${where}  ${code}`);
}
