/**
 * An experiment, not part of `npm run bench`: instructions per request, counted by valgrind's
 * callgrind, for Custodian and the bare @fastify/http-proxy side by side. Unlike CPU time on
 * this noisy machine (the same configuration has measured 538 and 963 µs per request minutes
 * apart), an instruction count repeats whatever else the machine is doing, so a change worth
 * 2–5 % can be seen. It is not time: a tight native loop (UTF-8 length, SHA-256) retires several
 * instructions per cycle, branchy JavaScript one or fewer, so it says whether a change moved
 * the work, and the V8 profile (bench/profile-proxy.ts) says where the time goes.
 *
 * Each gateway runs under callgrind in its own process (~50× slower), takes WARM requests from
 * autocannon (4 connections), then has its counters zeroed and takes MEASURED requests, waits
 * for the shipper to drain, and dumps. Printed per request: the main thread, the main thread
 * outside garbage collection (what the request path's code costs), and every thread less V8's
 * concurrent optimizing compiler (still busy at this warm-up under valgrind: a warm-up effect,
 * not a per-request cost). About 8 minutes with the two gateways in parallel.
 *
 *   npx tsx bench/instructions.ts [WARM=3000] [MEASURED=2000] [PATH=/api/customers/small]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFromProcess } from './load-process.js';
import { benchFixture } from './proxy.js';
import { scratchDatabase } from './scratch-database.js';

const [warm = 3000, measured = 2000] = process.argv.slice(2, 4).map(Number);
const path = process.argv[4] ?? '/api/customers/small';

// Four connections and a long timeout: under valgrind each request takes ~50 times as long.
const load = (url: string, requests: number, headers: readonly string[]) => loadFromProcess(url, { requests }, { headers, connections: 4, timeoutSeconds: 60 });

/** Inclusive instructions of the first function whose name matches, from callgrind_annotate. */
function inclusive(file: string, name: RegExp): number {
  const text = execFileSync('callgrind_annotate', ['--threshold=100', '--inclusive=yes', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const line = text.split('\n').find((l) => name.test(l));
  return line ? Number(line.trim().split(/\s+/)[0]?.replaceAll(',', '')) : 0;
}

function summary(file: string): number {
  return Number(/^summary: (\d+)/m.exec(readFileSync(file, 'utf8'))?.[1] ?? 0);
}

interface Count {
  readonly mainThread: number;
  readonly mainOutsideGc: number;
  readonly allLessCompiler: number;
}

async function count(script: string, env: Record<string, string>, headers: readonly string[], dir: string, name: string): Promise<Count> {
  const out = join(dir, `${name}.cg`);
  const child: ChildProcess = spawn('valgrind', ['--tool=callgrind', '--separate-threads=yes', `--callgrind-out-file=${out}`, process.execPath, '--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'ignore', 'ipc'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: { port: number }) => resolve(m.port));
      child.once('exit', (code) => reject(new Error(`${script} under valgrind exited with ${code}`)));
    });
    const url = `https://127.0.0.1:${port}${path}`;
    await load(url, warm, headers);
    execFileSync('callgrind_control', ['-z', String(child.pid)], { stdio: 'ignore' });
    await load(url, measured, headers);
    // The shipper's work for the measured requests belongs to them: give it time to drain.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    execFileSync('callgrind_control', ['-d', String(child.pid)], { stdio: 'ignore' });
    // The dump is written by the process itself; wait for every thread's file to appear.
    const prefix = `${name}.cg.1-`;
    for (let i = 0; i < 100 && !readdirSync(dir).some((f) => f.startsWith(prefix)); i++) await new Promise((r) => setTimeout(r, 200));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const files = readdirSync(dir)
      .filter((f) => f.startsWith(prefix))
      .sort()
      .map((f) => join(dir, f));
    const main = files[0] as string;
    const mainThread = summary(main);
    const gc = inclusive(main, /Heap::CollectGarbage\(/);
    let all = 0;
    for (const f of files) all += summary(f) - (f === main ? 0 : inclusive(f, /OptimizingCompileDispatcher::CompileTask::RunInternal/));
    return { mainThread: mainThread / measured, mainOutsideGc: (mainThread - gc) / measured, allLessCompiler: all / measured };
  } finally {
    child.kill('SIGKILL');
  }
}

const dir = mkdtempSync(join(tmpdir(), 'custodian-instructions-'));
const scratch = scratchDatabase();
try {
  const { pems, upstream, upstreamPort, token } = await benchFixture(dir, scratch.url);
  const [custodian, bare] = await Promise.all([
    count('bench/servers/custodian.ts', { BENCH_DIR: dir }, [`authorization=Bearer ${token}`, 'x-purpose=customer_service'], dir, 'custodian'),
    count('bench/servers/bare-proxy.ts', { BENCH_UPSTREAM: `http://127.0.0.1:${upstreamPort}`, BENCH_CERT: pems.cert, BENCH_KEY: pems.private }, [], dir, 'bare'),
  ]);
  upstream.kill();
  const k = (n: number) => `${(n / 1000).toFixed(0)}k`;
  console.log(`instructions per request, ${path}, ${warm} warm-up + ${measured} measured requests`);
  console.log('                         custodian    bare    ratio (bare/custodian)');
  for (const [label, key] of [
    ['main thread', 'mainThread'],
    ['main thread outside GC', 'mainOutsideGc'],
    ['all threads less compiler', 'allLessCompiler'],
  ] as const) {
    console.log(`${label.padEnd(26)} ${k(custodian[key]).padStart(8)} ${k(bare[key]).padStart(8)}    ${(bare[key] / custodian[key]).toFixed(2)}×`);
  }
} finally {
  scratch.drop();
  rmSync(dir, { recursive: true, force: true });
}
