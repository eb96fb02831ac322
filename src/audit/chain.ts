import { sha256 } from '../sha256.js';

/**
 * hash(n) = SHA-256(prevHash | instance | seq | recordText), where recordText is the record's JSON
 * exactly as written to the journal (and kept verbatim in the database). Editing, deleting or
 * reordering any record changes every hash after it; the instance and seq inside the hash stop
 * records being moved between chains or renumbered. Hashing the stored text rather than a
 * re-canonicalised form keeps the per-record cost to one serialisation.
 */
export function chainHash(prevHash: string, instance: string, seq: number, recordText: string): string {
  return sha256(`${prevHash}|${instance}|${seq}|${recordText}`, 'hex');
}
