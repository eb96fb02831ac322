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

type Step = { key: string } | { each: true };

/** `$.items[*].id` → [{key: items}, {each}, {key: id}] */
export function parseJsonPath(path: string): Step[] {
  const steps: Step[] = [];
  const re = /\.([^.[\]]+)|\[\*\]/g;
  for (const m of path.slice(1).matchAll(re)) steps.push(m[1] !== undefined ? { key: m[1] } : { each: true });
  return steps;
}

/** Collect the values at a parsed JSON path (own properties only). */
export function collectAt(value: unknown, steps: readonly Step[], into: SubjectSet, from = 0): void {
  if (from === steps.length) {
    into.add(value);
    return;
  }
  const step = steps[from] as Step;
  if ('each' in step) {
    if (Array.isArray(value)) for (const item of value) collectAt(item, steps, into, from + 1);
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, step.key)) {
    collectAt((value as Record<string, unknown>)[step.key], steps, into, from + 1);
  }
}

const compiledPaths = new WeakMap<readonly SubjectSource[], Step[][]>();

/**
 * Response JSON paths of a route, compiled once per route configuration (it is frozen, so the
 * array itself is the cache key). `$[*]…` paths also serve streamed array elements.
 */
export function responsePaths(sources: readonly SubjectSource[]): Step[][] {
  let paths = compiledPaths.get(sources);
  if (!paths) {
    paths = sources.flatMap((s) => ('jsonPath' in s ? [parseJsonPath(s.jsonPath)] : []));
    compiledPaths.set(sources, paths);
  }
  return paths;
}

/** The single value at a parsed path with no `[*]` step (own properties only). */
function valueAt(value: unknown, steps: readonly Step[]): unknown {
  let v = value;
  for (const step of steps) {
    if ('each' in step || v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, step.key)) return undefined;
    v = (v as Record<string, unknown>)[step.key];
  }
  return v;
}

/**
 * Remove, in place, the list items whose customer is restricted: for `$.items[*].id` the items
 * of `items` whose `id` is. The body is the request's own freshly parsed copy. Returns how many
 * items were removed.
 */
export function dropRestrictedItems(value: unknown, steps: readonly Step[], isRestricted: (id: string) => boolean, from = 0): number {
  const eachAt = steps.findIndex((s, i) => i >= from && 'each' in s);
  if (eachAt === -1) return 0;
  const container = valueAt(value, steps.slice(from, eachAt));
  if (!Array.isArray(container)) return 0;
  const rest = steps.slice(eachAt + 1);
  if (rest.some((s) => 'each' in s)) {
    let dropped = 0;
    for (const item of container) dropped += dropRestrictedItems(item, rest, isRestricted);
    return dropped;
  }
  const before = container.length;
  const kept = container.filter((item) => {
    const id = valueAt(item, rest);
    return id === undefined || id === null || !isRestricted(String(id));
  });
  container.length = 0;
  container.push(...kept);
  return before - kept.length;
}

/**
 * Partner scope on a list, in place: items of customers without a live consent are removed, the
 * others keep only their scoped fields. `$.items[*].id` → the items of `items`. Returns how many
 * items were removed.
 */
export function scopeItems(
  value: unknown,
  steps: readonly Step[],
  scopeFor: (id: string) => ReadonlySet<string> | undefined,
  strip: (item: unknown, scope: ReadonlySet<string>) => unknown,
): number {
  const eachAt = steps.findIndex((s) => 'each' in s);
  if (eachAt === -1) return 0;
  const container = valueAt(value, steps.slice(0, eachAt));
  if (!Array.isArray(container)) return 0;
  const rest = steps.slice(eachAt + 1);
  const before = container.length;
  const kept = container.filter((item) => {
    const id = valueAt(item, rest);
    const scope = id === undefined || id === null ? undefined : scopeFor(String(id));
    if (!scope) return false;
    strip(item, scope);
    return true;
  });
  container.length = 0;
  container.push(...kept);
  return before - kept.length;
}

/** The value at a path without `[*]`, exported for element-level checks. */
export function idAt(value: unknown, steps: readonly Step[]): unknown {
  return valueAt(value, steps);
}
