import { customer } from '../src/demo/dataset.js';

/** Writes a JSON array of demo customers of about BENCH_STREAM_MB megabytes to stdout. */
const target = Number(process.env.BENCH_STREAM_MB ?? 100) * 1024 * 1024;
const records = Array.from({ length: 1000 }, (_, i) => Buffer.from(`,${JSON.stringify(customer(i + 1))}`));
let produced = 0;
let n = 0;
function more() {
  while (produced < target) {
    const parts: Buffer[] = [];
    let size = 0;
    while (size < 256 * 1024) {
      const r = records[n % 1000] as Buffer;
      parts.push(n === 0 ? Buffer.concat([Buffer.from('['), r.subarray(1)]) : r);
      size += r.length;
      n++;
    }
    produced += size;
    if (!process.stdout.write(Buffer.concat(parts))) {
      process.stdout.once('drain', more);
      return;
    }
  }
  process.stdout.end(']');
}
more();
