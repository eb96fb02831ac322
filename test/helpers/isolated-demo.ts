import { type RunningDemo, startDemo } from '../../src/demo/run.js';
import { silentLogger } from '../../src/logging.js';
import { freshDatabase, serverUrl } from './loan-database.js';

/**
 * The demo on a store of its own, for tests that read the whole audit store (reports, access
 * histories): with DATABASE_URL the suite's other files share that database. On PostgreSQL, a
 * fresh database dropped afterwards; without DATABASE_URL, the demo's embedded store under its
 * own var directory.
 */
export async function isolatedDemo(t: { teardown(fn: () => Promise<void> | void): void }, varDir: string, prefix = 'custodian_demo'): Promise<RunningDemo> {
  const shared = process.env.DATABASE_URL;
  if (!shared) {
    const demo = await startDemo({ varDir, ephemeralPorts: true, logger: silentLogger() });
    t.teardown(() => demo.close());
    return demo;
  }
  // Registered first, so it runs after the demo's close (teardowns run last-in, first-out).
  const name = await freshDatabase(t, prefix);
  process.env.DATABASE_URL = serverUrl(name);
  try {
    const demo = await startDemo({ varDir, ephemeralPorts: true, logger: silentLogger() });
    t.teardown(() => demo.close());
    return demo;
  } finally {
    process.env.DATABASE_URL = shared;
  }
}
