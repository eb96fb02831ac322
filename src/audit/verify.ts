import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Db } from '../store/db.js';
import { instances, readChain } from '../store/audit-store.js';
import { chainHash } from './chain.js';
import { verifyCheckpoint } from './checkpoint.js';
import { listSegments } from './segments.js';
import { type ChainedRecord, GENESIS_HASH } from './record.js';

export interface ChainProblem {
  readonly seq: number | undefined;
  /** segment file and 1-based line, for the journal */
  readonly where: string;
  readonly problem: string;
}

export interface ChainReport {
  readonly instance: string;
  readonly source: 'journal' | 'database';
  readonly records: number;
  readonly checkpoints: number;
  readonly firstProblem: ChainProblem | undefined;
  readonly badCheckpoints: ChainProblem[];
  /**
   * Records after the last signed checkpoint: the part of the chain no signature seals yet. A cut
   * back to a checkpoint leaves a valid chain; only the database comparison (cross-check) sees it.
   */
  readonly unsealed: number;
}

interface Located {
  readonly rec: ChainedRecord | undefined;
  readonly where: string;
  readonly raw?: string;
  /** The record's stored JSON text (the database keeps it verbatim); else re-serialised. */
  readonly recordText?: string;
}

/**
 * Walk one instance's chain in stored order and report the first broken, missing or reordered
 * record, and every checkpoint whose signature or content does not match the chain.
 */
async function verifySequence(
  instance: string,
  source: ChainReport['source'],
  items: AsyncIterable<Located>,
  publicKey: KeyObject | undefined,
): Promise<ChainReport> {
  let prev: ChainedRecord | undefined;
  let firstProblem: ChainProblem | undefined;
  let records = 0;
  let checkpoints = 0;
  const badCheckpoints: ChainProblem[] = [];
  const hashes = new Map<number, string>();
  const pendingCheckpoints: { seq: number; where: string; jws: string; claimedSeq: number; claimedHash: string }[] = [];
  let firstSeq: number | undefined;
  let purgedThrough = 0;
  let lastCheckpointSeq = 0;
  const fail = (p: ChainProblem) => {
    firstProblem ??= p;
  };
  for await (const { rec, where, raw, recordText } of items) {
    if (firstProblem) break;
    if (!rec) {
      fail({ seq: prev ? prev.seq + 1 : undefined, where, problem: raw === undefined ? 'unreadable' : 'unparsable record (edited or truncated)' });
      break;
    }
    records++;
    firstSeq ??= rec.seq;
    if (rec.instance !== instance) fail({ seq: rec.seq, where, problem: `record of instance ${rec.instance} inside this chain` });
    else if (chainHash(rec.prevHash, instance, rec.seq, recordText ?? JSON.stringify(rec.record)) !== rec.hash) fail({ seq: rec.seq, where, problem: 'hash mismatch: the record was modified' });
    else if (prev && rec.seq <= prev.seq) fail({ seq: rec.seq, where, problem: `out of order: seq ${rec.seq} after ${prev.seq}` });
    else if (prev && rec.seq !== prev.seq + 1) fail({ seq: rec.seq, where, problem: `missing record(s): seq ${prev.seq + 1}..${rec.seq - 1}` });
    else if (prev && rec.prevHash !== prev.hash) fail({ seq: rec.seq, where, problem: 'broken link: prevHash does not match the previous record' });
    else if (!prev && rec.seq === 1 && rec.prevHash !== GENESIS_HASH) fail({ seq: rec.seq, where, problem: 'first record does not start from the genesis hash' });
    hashes.set(rec.seq, rec.hash);
    if (rec.record.type === 'checkpoint') {
      checkpoints++;
      lastCheckpointSeq = rec.seq;
      const d = rec.record.detail as { seq: number; hash: string; jws: string };
      pendingCheckpoints.push({ seq: rec.seq, where, jws: d.jws, claimedSeq: d.seq, claimedHash: d.hash });
    }
    if (rec.record.type === 'purge') {
      const d = rec.record.detail as { what?: string; lastSeq?: number };
      if (d.what === 'journal segment' && typeof d.lastSeq === 'number') purgedThrough = Math.max(purgedThrough, d.lastSeq);
    }
    prev = rec;
  }
  if (!firstProblem && firstSeq !== undefined && firstSeq > 1 && purgedThrough < firstSeq - 1) {
    fail({ seq: 1, where: 'start', problem: `records 1..${firstSeq - 1} are missing and no purge record accounts for them` });
  }
  for (const cp of pendingCheckpoints) {
    const claim = publicKey ? await verifyCheckpoint(cp.jws, publicKey) : undefined;
    if (publicKey && !claim) badCheckpoints.push({ seq: cp.seq, where: cp.where, problem: 'checkpoint signature does not verify' });
    else if (claim && (claim.instance !== instance || claim.seq !== cp.claimedSeq || claim.hash !== cp.claimedHash)) {
      badCheckpoints.push({ seq: cp.seq, where: cp.where, problem: 'checkpoint record differs from what was signed' });
    } else if (hashes.has(cp.claimedSeq) && hashes.get(cp.claimedSeq) !== cp.claimedHash) {
      badCheckpoints.push({ seq: cp.seq, where: cp.where, problem: `chain at seq ${cp.claimedSeq} differs from the signed checkpoint` });
    }
  }
  const unsealed = prev ? prev.seq - Math.max(lastCheckpointSeq, (firstSeq ?? 1) - 1) : 0;
  return { instance, source, records, checkpoints, firstProblem, badCheckpoints, unsealed };
}

async function* journalLines(files: readonly string[]): AsyncIterable<Located> {
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      if (line === '' && i === lines.length - 1) break;
      const where = `${basename(file)}:${i + 1}`;
      if (i === lines.length - 1) {
        // No newline after the last line: a torn or truncated write.
        yield { rec: undefined, where, raw: line };
        return;
      }
      try {
        yield { rec: JSON.parse(line) as ChainedRecord, where, raw: line };
      } catch {
        yield { rec: undefined, where, raw: line };
        return;
      }
    }
  }
}

export async function verifyJournal(dir: string, publicKey: KeyObject | undefined): Promise<ChainReport[]> {
  const segments = await listSegments(dir);
  const byInstance = new Map<string, string[]>();
  for (const s of segments) byInstance.set(s.instance, [...(byInstance.get(s.instance) ?? []), s.file]);
  const reports: ChainReport[] = [];
  for (const [instance, files] of byInstance) reports.push(await verifySequence(instance, 'journal', journalLines(files), publicKey));
  return reports;
}

async function* databaseRows(db: Db, instance: string): AsyncIterable<Located> {
  let after = 0;
  for (;;) {
    const rows = await readChain(db, instance, after, 5000);
    if (rows.length === 0) return;
    for (const rec of rows) yield { rec, where: `database seq ${rec.seq}`, recordText: rec.recordText };
    after = rows.at(-1)?.seq ?? after;
  }
}

export async function verifyDatabase(db: Db, publicKey: KeyObject | undefined): Promise<ChainReport[]> {
  const reports: ChainReport[] = [];
  for (const instance of await instances(db)) reports.push(await verifySequence(instance, 'database', databaseRows(db, instance), publicKey));
  return reports;
}
