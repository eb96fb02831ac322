import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../store/db.js';
import type { ChainedRecord } from './record.js';
import { listSegments } from './segments.js';

export interface CrossCheckReport {
  readonly instance: string;
  /** Last record in the journal, the shipped position, the last record in the database. */
  readonly journalHead: number;
  readonly shipped: number;
  readonly databaseHead: number;
  readonly problems: string[];
}

/** The last whole record of an instance's journal (a torn last line is not one). */
async function journalHead(dir: string, instance: string): Promise<ChainedRecord | undefined> {
  const segments = await listSegments(dir, instance);
  for (let i = segments.length - 1; i >= 0; i--) {
    const lines = (await readFile((segments[i] as { file: string }).file, 'utf8')).split('\n');
    // The text after the last newline is a torn write, never a record.
    for (let j = lines.length - 2; j >= 0; j--) {
      try {
        return JSON.parse(lines[j] as string) as ChainedRecord;
      } catch {}
    }
  }
  return undefined;
}

async function shippedPosition(dir: string, instance: string): Promise<number> {
  try {
    return (JSON.parse(await readFile(join(dir, `shipped-${instance}.json`), 'utf8')) as { seq: number }).seq;
  } catch {
    return 0;
  }
}

/**
 * Removal from the end can only be seen by comparing copies: the journal, the shipped position
 * the gateway wrote when the database confirmed a batch, and the database. For each instance
 * whose journal is here: neither copy may end before the shipped position, the journal may not
 * end before the database, and where both hold a seq they must hold the same hash.
 */
export async function crossCheck(dir: string, db: Db): Promise<CrossCheckReport[]> {
  const names = new Set((await listSegments(dir)).map((s) => s.instance));
  const reports: CrossCheckReport[] = [];
  for (const instance of names) {
    const head = await journalHead(dir, instance);
    const journalSeq = head?.seq ?? 0;
    const shipped = await shippedPosition(dir, instance);
    const r = await db.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM audit_events WHERE instance_id = $1', [instance]);
    const databaseSeq = Number(r.rows[0]?.seq ?? 0);
    const problems: string[] = [];
    if (journalSeq < shipped) problems.push(`the journal ends at seq ${journalSeq}, but seq ${shipped} was shipped: records ${journalSeq + 1}..${shipped} were cut from the journal`);
    if (databaseSeq < shipped) problems.push(`the database ends at seq ${databaseSeq}, but seq ${shipped} was shipped: records ${databaseSeq + 1}..${shipped} were removed from the database`);
    if (journalSeq < databaseSeq) problems.push(`the journal ends at seq ${journalSeq}, but the database holds up to seq ${databaseSeq}: records were cut from the journal`);
    const common = Math.min(journalSeq, databaseSeq);
    if (head && common > 0 && common === journalSeq) {
      const row = await db.query<{ hash: string }>('SELECT hash FROM audit_events WHERE instance_id = $1 AND seq = $2', [instance, common]);
      if (row.rows[0] && row.rows[0].hash !== head.hash) problems.push(`seq ${common} has a different hash in the journal and in the database`);
    }
    reports.push({ instance, journalHead: journalSeq, shipped, databaseHead: databaseSeq, problems });
  }
  return reports;
}
