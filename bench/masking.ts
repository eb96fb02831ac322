import { spawnSync } from 'node:child_process';
import { compileFieldPlan } from '../src/mask/plan.js';
import { FieldReport } from '../src/mask/report.js';
import { applyView } from '../src/mask/walk.js';
import { customerJson } from './fixtures.js';
import { benchClassification, benchRoute } from './policy.js';
import type { BenchSection } from './results.js';

/**
 * The floor of a byte-level masker (issue 14's "byte-level JSON rewriter that copies untouched
 * bytes"), the cheapest pass any such masker makes: find every string's bounds (escapes
 * honoured) and the digit runs inside strings that the identifier detectors start from, then
 * copy the bytes out. No decoding, no structure, no masking: what is left once JSON.parse and
 * JSON.stringify are gone.
 */
function byteScanFloor(input: Buffer, out: Buffer): number {
  let inString = false;
  let digits = 0;
  let runs = 0;
  for (let i = 0; i < input.length; i++) {
    const b = input[i] as number;
    if (inString) {
      if (b === 0x5c) {
        i++;
        continue;
      }
      const digit = b >= 0x30 && b <= 0x39;
      if (digit) digits++;
      if (!digit || b === 0x22) {
        if (digits >= 11) runs++;
        digits = 0;
        if (b === 0x22) inString = false;
      }
    } else if (b === 0x22) inString = true;
  }
  input.copy(out);
  return runs;
}

/**
 * Buffered masking rate on one core: parse + view + serialise of a 50 KB customer list, and
 * beside it JSON.parse + JSON.stringify of the same body alone — the floor of any masker that
 * parses and serialises. The two alternate in short rounds and each rate is the median of its
 * rounds, so a machine that slows down mid-measurement slows both alike.
 */
function bufferedRates(): { rate: number; floor: number; byteFloor: number } {
  const body = customerJson(50 * 1024);
  const bytes = Buffer.from(body);
  const out = Buffer.allocUnsafe(bytes.length);
  // A rate per byte of the body as it arrives (UTF-8), like the streamed figure.
  const bodyBytes = Buffer.byteLength(body);
  const plan = compileFieldPlan(benchRoute(), 'customer_service', benchClassification(), { active: undefined, secrets: new Map() });
  const round = (work: () => unknown): number => {
    const deadline = performance.now() + 250;
    let bytes = 0;
    const start = performance.now();
    while (performance.now() < deadline) {
      work();
      bytes += bodyBytes;
    }
    return bytes / 1e6 / ((performance.now() - start) / 1000);
  };
  const masked = () => JSON.stringify(applyView(JSON.parse(body), plan, new FieldReport()));
  const floor = () => JSON.stringify(JSON.parse(body));
  const byteFloor = () => byteScanFloor(bytes, out);
  round(masked);
  round(floor);
  round(byteFloor);
  const rates: number[] = [];
  const floors: number[] = [];
  const byteFloors: number[] = [];
  for (let i = 0; i < 12; i++) {
    rates.push(round(masked));
    floors.push(round(floor));
    byteFloors.push(round(byteFloor));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return { rate: median(rates), floor: median(floors), byteFloor: median(byteFloors) };
}

export async function benchMasking(): Promise<BenchSection> {
  const { rate, floor, byteFloor } = bufferedRates();
  // The 100 MB streaming run happens in a fresh process pinned to one core, so its peak RSS is its own.
  const run = spawnSync('taskset', ['-c', '0', process.execPath, '--import', 'tsx', 'bench/stream-memory.ts'], { encoding: 'utf8', timeout: 120_000 });
  const streamed = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as {
    mb?: number;
    seconds?: number;
    cpuSeconds?: number;
    peakRssMb?: number;
    leaked?: number;
  };
  // Throughput per core: megabytes through the masker per CPU-second of the masking process.
  const mbps = (streamed.mb ?? 0) / (streamed.cpuSeconds ?? Number.POSITIVE_INFINITY);
  const wall = (streamed.mb ?? 0) / (streamed.seconds ?? Number.POSITIVE_INFINITY);
  return {
    title: 'Masking (issue 4)',
    description:
      'Buffered path: JSON.parse + purpose view (customer-service: names, IDs, mobiles, cards, addresses, e-mails masked; dates and income generalised; detectors on remarks) + JSON.stringify of a 50 KB list of demo customers (Chinese text), alternating with JSON.parse + JSON.stringify of the same body and with the cheapest pass a byte-level masker makes over its bytes (string bounds, digit runs, a copy; bench/masking.ts) in 12 rounds of 0.25 s each on one core (medians). Streaming path: a 100 MB JSON array of demo customers piped from a generator process through the streaming masker (its own process, pinned to core 0) to a reader process that counts clear mobile numbers; peak RSS is the masker process’s maxRSS.',
    rows: [
      { name: 'buffered masking rate', value: rate, unit: 'MB/s', target: '≥ 200 MB/s', pass: rate >= 200 },
      { name: 'floor: JSON.parse + JSON.stringify of the same body alone, one core', value: floor, unit: 'MB/s', target: '(baseline)', pass: undefined },
      { name: 'floor of a byte-level masker: one pass finding strings and digit runs, then a copy of the bytes, one core', value: byteFloor, unit: 'MB/s', target: '(baseline)', pass: undefined },
      { name: '100 MB array streamed: throughput per CPU-second of the masker', value: mbps, unit: 'MB/s', target: '≥ 50 MB/s', pass: mbps >= 50 },
      { name: '100 MB array streamed: wall-clock throughput (generator and reader in other processes)', value: wall, unit: 'MB/s', target: '—', pass: undefined },
      { name: '100 MB array streamed: peak RSS', value: streamed.peakRssMb ?? Number.NaN, unit: 'MB', target: '< 160 MB', pass: (streamed.peakRssMb ?? Number.POSITIVE_INFINITY) < 160 },
      { name: '100 MB array streamed: clear mobiles in output', value: streamed.leaked ?? Number.NaN, unit: '', target: '0', pass: streamed.leaked === 0 },
    ],
  };
}
