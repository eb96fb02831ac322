/**
 * `npm run bench`: every benchmark, one run, results written to bench/RESULTS.md beside their
 * targets. Load goes only to 127.0.0.1 and every loop is bounded in count or time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchAudit } from './audit.js';
import { benchAuth } from './auth.js';
import { benchMasking } from './masking.js';
import { benchProxy } from './proxy.js';
import { benchPgwire } from './pgwire.js';
import { benchStages } from './profile-proxy.js';
import { benchSoak } from './soak.js';
import { benchReport } from './report.js';
import { benchDetectors } from './detectors.js';
import { type BenchSection, writeResults } from './results.js';

const parts: Record<string, () => Promise<BenchSection>> = { auth: benchAuth, masking: benchMasking, detectors: benchDetectors, audit: benchAudit, proxy: benchProxy, stages: benchStages, pgwire: benchPgwire, report: benchReport, soak: benchSoak };

// BENCH_ONLY=proxy (or auth, masking, audit) runs one part, for quick iterations; the
// committed RESULTS.md always comes from a full run.
const only = process.env.BENCH_ONLY;
if (only) {
  const run = parts[only];
  if (!run) throw new Error(`BENCH_ONLY must be one of ${Object.keys(parts).join(', ')}`);
  const section = await run();
  if (process.env.BENCH_SECTION_FILE) writeFileSync(process.env.BENCH_SECTION_FILE, JSON.stringify(section));
  else console.log(JSON.stringify([section], null, 1));
} else {
  // Each part in a fresh process: one part's heap and JIT state (the masking run leaves
  // hundreds of MB of garbage behind) must not slow the next one down.
  const dir = mkdtempSync(join(tmpdir(), 'custodian-bench-run-'));
  const sections: BenchSection[] = [];
  try {
    for (const name of Object.keys(parts)) {
      const file = join(dir, `${name}.json`);
      const child = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts'], {
        env: { ...process.env, BENCH_ONLY: name, BENCH_SECTION_FILE: file },
        stdio: 'inherit',
        timeout: 20 * 60_000,
      });
      if (child.status !== 0) throw new Error(`bench part ${name} failed (${child.status ?? child.signal})`);
      sections.push(JSON.parse(readFileSync(file, 'utf8')) as BenchSection);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(writeResults(sections));
}
