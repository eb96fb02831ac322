import { cpSync, existsSync, readFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Db, pgliteDb, postgresDb } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrations.js';

/**
 * The test store: the real PostgreSQL at DATABASE_URL when set (CI), otherwise an embedded
 * PGlite. Creating a PGlite cluster takes seconds, so one migrated template is made per machine
 * and each test process opens a copy of it.
 */
let shared: Promise<Db> | undefined;

/** A migrated PGlite data directory to copy (made once per machine). */
export async function pgliteTemplate(): Promise<string> {
  const { version } = JSON.parse(readFileSync('node_modules/@electric-sql/pglite/package.json', 'utf8')) as { version: string };
  const template = join(tmpdir(), `custodian-pglite-template-${version}-v10`);
  if (existsSync(join(template, 'ready'))) return template;
  const building = mkdtempSync(join(tmpdir(), 'custodian-pglite-build-'));
  const db = await pgliteDb(building);
  await migrate(db);
  await db.close();
  writeFileSync(join(building, 'ready'), '');
  try {
    renameSync(building, template); // atomic: a racing process either wins or finds it there
  } catch {
    rmSync(building, { recursive: true, force: true });
  }
  return template;
}

export function testDb(): Promise<Db> {
  shared ??= (async () => {
    // Close the store when the test file ends, or an idle pool keeps the process alive.
    const { default: tap } = await import('tap');
    tap.teardown(async () => (await shared)?.close());
    const url = process.env.DATABASE_URL;
    if (url) {
      const db = postgresDb(url);
      await migrate(db);
      return db;
    }
    const dir = mkdtempSync(join(tmpdir(), 'custodian-pglite-'));
    cpSync(await pgliteTemplate(), dir, { recursive: true });
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    const db = await pgliteDb(dir);
    await migrate(db);
    return db;
  })();
  return shared;
}
