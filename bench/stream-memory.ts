import { spawn } from 'node:child_process';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { compileFieldPlan } from '../src/mask/plan.js';
import { FieldReport } from '../src/mask/report.js';
import { ArrayMaskingStream } from '../src/mask/stream-array.js';
import { benchClassification, benchRoute } from './policy.js';

/**
 * The streaming masker in a process of its own, as in the gateway: bytes arrive from another
 * process (the generator) and leave to another (a leak counter), both on core 1 when taskset
 * exists. Prints one JSON line: megabytes in, seconds, this process's peak RSS, clear mobiles seen.
 */
const plan = compileFieldPlan(benchRoute(), 'customer_service', benchClassification(), { active: undefined, secrets: new Map() });
const pin = (args: string[]) => ['-c', '1', process.execPath, '--import', 'tsx', ...args];
const source = spawn('taskset', pin(['bench/stream-source.ts']), { stdio: ['ignore', 'pipe', 'inherit'] });
const sink = spawn('taskset', pin(['bench/stream-sink.ts']), { stdio: ['pipe', 'pipe', 'inherit'] });
let sinkOut = '';
sink.stdout.on('data', (c: Buffer) => {
  sinkOut += c.toString();
});
const sinkDone = new Promise<void>((ok) => sink.on('close', () => ok()));

let bytesIn = 0;
const counter = new Transform({
  transform(chunk: Buffer, _enc, done) {
    bytesIn += chunk.length;
    done(null, chunk);
  },
});
const start = performance.now();
const cpuStart = process.cpuUsage();
await pipeline(source.stdout, counter, new ArrayMaskingStream(plan, new FieldReport(), 16 * 1024 * 1024), sink.stdin);
const seconds = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpuStart);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
await sinkDone;
const { leaked } = JSON.parse(sinkOut.trim() || '{}') as { leaked?: number };
console.log(JSON.stringify({ mb: bytesIn / 1e6, seconds, cpuSeconds, peakRssMb: process.resourceUsage().maxRSS / 1024, leaked }));
