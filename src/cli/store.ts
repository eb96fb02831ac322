import { join } from 'node:path';
import { checkpointKeyFromPem, ensureDemoCheckpointKey } from '../audit/checkpoint.js';
import type { Config } from '../config/types.js';
import { type Db, openDb } from '../store/db.js';
import { migrate } from '../store/migrations.js';

/** The store a configuration names (the embedded one under varDir when it names none). */
export function storeOf(config: Config, varDir: string): Promise<Db> {
  return openDb(config.store.databaseUrl, config.store.embeddedDir ?? join(varDir, 'pglite'));
}

/** That store, migrated, for the length of `use`; closed afterwards. */
export async function withStore<T>(config: Config, varDir: string, use: (db: Db) => Promise<T>): Promise<T> {
  const db = await storeOf(config, varDir);
  try {
    await migrate(db);
    return await use(db);
  } finally {
    await db.close();
  }
}

/** The public half of the audit checkpoint key (the demo's under varDir when none is configured). */
export function checkpointPublicKey(config: Config, varDir: string) {
  const pem = config.audit.checkpointKey ?? ensureDemoCheckpointKey(join(varDir, 'checkpoint-key.pem'));
  return checkpointKeyFromPem(pem).publicKey;
}
