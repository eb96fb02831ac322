/**
 * `npm run bench`: every benchmark, one run, results written to bench/RESULTS.md beside their
 * targets. Load goes only to 127.0.0.1 and every loop is bounded in count or time.
 */
import { benchAudit } from './audit.js';
import { benchAuth } from './auth.js';
import { benchMasking } from './masking.js';
import { benchProxy } from './proxy.js';
import { type BenchSection, writeResults } from './results.js';

const sections: BenchSection[] = [];
sections.push(await benchAuth());
sections.push(await benchMasking());
sections.push(await benchAudit());
sections.push(await benchProxy());
console.log(writeResults(sections));
