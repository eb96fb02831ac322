/**
 * `npm run bench`: every benchmark, one run, results written to bench/RESULTS.md beside their
 * targets. Load goes only to 127.0.0.1 and every loop is bounded in count or time.
 */
import { benchAudit } from './audit.js';
import { benchAuth } from './auth.js';
import { benchMasking } from './masking.js';
import { benchProxy } from './proxy.js';
import { type BenchSection, writeResults } from './results.js';

// BENCH_ONLY=proxy (or auth, masking, audit) runs one part, for quick iterations; the
// committed RESULTS.md always comes from a full run.
const only = process.env.BENCH_ONLY;
const parts: [string, () => Promise<BenchSection>][] = [
  ['auth', benchAuth],
  ['masking', benchMasking],
  ['audit', benchAudit],
  ['proxy', benchProxy],
];
const sections: BenchSection[] = [];
for (const [name, run] of parts) if (!only || only === name) sections.push(await run());
console.log(only ? JSON.stringify(sections, null, 1) : writeResults(sections));
