import type { SubjectSet } from '../audit/subjects.js';
import type { ResponseScope } from '../pipeline/decision.js';
import { type Step, type SubjectPath, valueAt, valuesAt } from '../policy/subject-paths.js';
import type { BulkBudget } from './bulk-guard.js';
import { stripToScope } from './partner-scope.js';

/** What scoping removed from a response, for the completion record and the response header. */
export interface ScopeCounts {
  restrictedDropped: number;
  unconsentedDropped: number;
  bulkWithheld: number;
}

/**
 * Governance applied to the body of an allowed response, the same way whether it is buffered
 * or streamed: each list item's customer is judged in one order — restriction (objection) for
 * the purpose, then the partner's consent and contract (the item is narrowed to its scope), then
 * the bulk budget — and an item failing any of them is removed and counted. Customers released
 * are collected for the access record and for the bulk count. Works in place on the request's
 * own freshly parsed body.
 */
export class ResponseScoper {
  readonly counts: ScopeCounts = { restrictedDropped: 0, unconsentedDropped: 0, bulkWithheld: 0 };

  constructor(
    private readonly scope: ResponseScope,
    private readonly paths: readonly SubjectPath[],
    /** Customers named in the response, for the access record (capped). */
    private readonly subjects: SubjectSet,
    /** Every customer released, uncapped, for the bulk count; with the caller's budget. */
    private readonly bulk: { readonly released: SubjectSet; readonly budget: BulkBudget } | undefined,
  ) {}

  /** Judge one list item by the customer id at `inItem`; false: remove it. */
  #admit(item: unknown, inItem: readonly Step[]): boolean {
    const raw = valueAt(item, inItem);
    const id = raw === undefined || raw === null || typeof raw === 'object' ? undefined : String(raw);
    if (id !== undefined && this.scope.isRestricted(id)) {
      this.counts.restrictedDropped++;
      return false;
    }
    if (this.scope.partnerScope) {
      // A partner gets only consented customers (an item naming none is not provided at all).
      const fields = id === undefined ? undefined : this.scope.partnerScope(id);
      if (!fields) {
        this.counts.unconsentedDropped++;
        return false;
      }
      stripToScope(item, fields);
    }
    if (id !== undefined && this.bulk && !this.bulk.budget.admits(id)) {
      this.counts.bulkWithheld++;
      return false;
    }
    if (id !== undefined) this.#released(id);
    return true;
  }

  #released(id: string): void {
    this.subjects.add(id);
    this.bulk?.released.add(id);
  }

  /** Filter the list(s) at `steps` in place (nested `[*]` recurse into each item). */
  #scopeLists(value: unknown, steps: readonly Step[]): void {
    const eachAt = steps.findIndex((s) => 'each' in s);
    const container = valueAt(value, steps.slice(0, eachAt));
    if (!Array.isArray(container)) return;
    const rest = steps.slice(eachAt + 1);
    if (rest.some((s) => 'each' in s)) {
      for (const item of container) this.#scopeLists(item, rest);
      return;
    }
    const kept = container.filter((item) => this.#admit(item, rest));
    container.length = 0;
    container.push(...kept);
  }

  /** A whole (buffered) body. */
  applyToValue(value: unknown): void {
    let listed = false;
    for (const path of this.paths) {
      if (path.toList) {
        listed = true;
        this.#scopeLists(value, path.steps);
      } else {
        // A path naming one value: that customer was checked by `decide` when it names the
        // request's own subject; a customer only the response names is recorded and counted.
        valuesAt(value, path.steps, (v) => {
          if (v !== undefined && v !== null && typeof v !== 'object') this.#released(String(v));
        });
      }
    }
    // A partner on a single-customer route: that customer's scope applies to the whole record.
    if (!listed && this.scope.partnerRecordScope) stripToScope(value, this.scope.partnerRecordScope);
  }

  /** New customers this response may still release (undefined: no bulk limit applies). */
  get bulkRemaining(): number | undefined {
    return this.bulk?.budget.remaining;
  }

  /** One element of a streamed top-level array; false: leave it out. */
  admitElement(element: unknown): boolean {
    for (const path of this.paths) {
      if (!path.topLevelList) continue;
      if (path.inItem.some((s) => 'each' in s)) {
        this.#scopeLists(element, path.inItem);
        continue;
      }
      if (!this.#admit(element, path.inItem)) return false;
    }
    return true;
  }
}
