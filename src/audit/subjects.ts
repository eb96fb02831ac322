import type { MaskingConfig, SubjectSource } from '../config/types.js';
import { emptyHits, maskDetected } from '../mask/detectors.js';
import { pseudonymise } from '../mask/pseudonym.js';

type SubjectKeys = Pick<MaskingConfig, 'pseudonymKeys' | 'activePseudonymKey'>;

/**
 * How a customer id is written into an audit record. Most ids (account numbers, database keys)
 * as given. An id that is itself an identifier (an ID number used as the key) is never written in
 * clear: it is written as its keyed pseudonym under the active key, which the officer's "who
 * accessed customer X" query can compute again from X; without a pseudonym key, masked (such
 * records can only be found by the masked form, which other customers may share).
 */
export function recordedSubjectId(id: string, keys: SubjectKeys): string {
  const masked = maskDetected(id, emptyHits());
  if (masked === id) return id;
  const keyId = keys.activePseudonymKey;
  const secret = keyId === undefined ? undefined : keys.pseudonymKeys.get(keyId);
  return keyId !== undefined && secret !== undefined ? pseudonymise(id, keyId, secret) : masked;
}

/**
 * Every form under which records may hold a customer: as given, as its pseudonym under each
 * configured key (records from before a key rotation included), and masked — flagged, because a
 * masked form can be another customer's too.
 */
export function recordedSubjectForms(id: string, keys: SubjectKeys): { exact: string[]; masked: string | undefined } {
  const masked = maskDetected(id, emptyHits());
  if (masked === id) return { exact: [id], masked: undefined };
  return { exact: [id, ...[...keys.pseudonymKeys].map(([keyId, secret]) => pseudonymise(id, keyId, secret))], masked };
}

/**
 * The customer ids a request touched, from the route's subject definition: path parameters and
 * query parameters at decision time, JSON paths in the response as it is transformed. Capped
 * list plus an exact count. An id that is itself an identifier (an ID number used as a key) is
 * never written out in clear (see recordedSubjectId).
 */
export class SubjectSet {
  readonly #ids = new Set<string>();
  #count = 0;
  readonly #cap: number;

  constructor(cap: number) {
    this.#cap = cap;
  }

  add(value: unknown): void {
    if (value === null || value === undefined || typeof value === 'object') return;
    // Kept as given: restrictions, consents and the bulk guard compare real ids. Only what is
    // written out (toRecord, the audit record) is masked or pseudonymised.
    const id = String(value);
    if (this.#ids.has(id)) return;
    this.#count++;
    if (this.#ids.size < this.#cap) this.#ids.add(id);
  }

  /** Every id seen so far that is still in the capped list, unmasked: for enforcement only. */
  all(): string[] {
    return [...this.#ids];
  }

  get size(): number {
    return this.#count;
  }

  /** For the audit record: ids as recordedSubjectId writes them (never an identifier in clear). */
  toRecord(keys: SubjectKeys): { ids: string[]; count: number } {
    return { ids: [...new Set([...this.#ids].map((id) => recordedSubjectId(id, keys)))], count: this.#count };
  }
}

function queryValues(rawQuery: string, name: string): string[] {
  const out: string[] = [];
  for (const pair of rawQuery.split('&')) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    try {
      if (decodeURIComponent(pair.slice(0, eq)) === name) out.push(decodeURIComponent(pair.slice(eq + 1).replaceAll('+', ' ')));
    } catch {
      // undecodable: not an id we can name
    }
  }
  return out;
}

/** Subjects named by the request itself (path and query parameters). */
export function requestSubjects(
  sources: readonly SubjectSource[],
  params: Readonly<Record<string, string>>,
  rawQuery: string,
  into: SubjectSet,
): void {
  for (const s of sources) {
    if ('param' in s) into.add(params[s.param]);
    else if ('query' in s) for (const v of queryValues(rawQuery, s.query)) into.add(v);
  }
}
