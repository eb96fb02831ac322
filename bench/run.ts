/**
 * `npm run bench`: every benchmark, one run, results written to bench/RESULTS.md beside their
 * targets. Load goes only to 127.0.0.1 and every loop is bounded in count or time.
 */
import { benchAuth } from './auth.js';
import { type BenchSection, writeResults } from './results.js';

const sections: BenchSection[] = [];
sections.push(await benchAuth());
console.log(writeResults(sections));
