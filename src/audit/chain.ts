import * as crypto from 'node:crypto';

// One-shot hashing (Node ≥ 20.12) is about twice as fast as createHash for small inputs.
const sha256Hex: (text: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (text) => (crypto as unknown as { hash(alg: string, data: string, enc: 'hex'): string }).hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');

/**
 * hash(n) = SHA-256(prevHash | instance | seq | recordText), where recordText is the record's JSON
 * exactly as written to the journal (and kept verbatim in the database). Editing, deleting or
 * reordering any record changes every hash after it; the instance and seq inside the hash stop
 * records being moved between chains or renumbered. Hashing the stored text rather than a
 * re-canonicalised form keeps the per-record cost to one serialisation.
 */
export function chainHash(prevHash: string, instance: string, seq: number, recordText: string): string {
  return sha256Hex(`${prevHash}|${instance}|${seq}|${recordText}`);
}
