import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import type { AuditRecord } from './record.js';

/**
 * hash(n) = SHA-256(prevHash | instance | seq | canonical(record)). Editing, deleting or
 * reordering any record changes every hash after it; the instance and seq inside the hash stop
 * records being moved between chains or renumbered.
 */
export function chainHash(prevHash: string, instance: string, seq: number, record: AuditRecord): string {
  return createHash('sha256').update(`${prevHash}|${instance}|${seq}|${canonicalJson(record)}`).digest('hex');
}
