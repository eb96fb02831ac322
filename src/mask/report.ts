import { type DetectorHits, emptyHits, maskDetected } from './detectors.js';
import type { Action } from './operators.js';

/** The part of a field rule the report needs (kept structural to avoid an import cycle). */
export interface ReportableRule {
  /** The dictionary name or JSON path this rule is for; undefined for the unknown-field rule. */
  readonly name: string | undefined;
  readonly dataClass: string;
  readonly operator: { readonly action: Action };
  /** Index of the rule within its plan, when it has one (see FieldRule.slot). */
  readonly slot?: number;
}

const UNKNOWN_NAMES_CAP = 256;
const SHOWN_NAME_CHARS = 64;

/** A field name as records and logs may show it: identifiers masked, length bounded. */
function shownName(name: string): string {
  const masked = maskDetected(name, emptyHits());
  return masked.length > SHOWN_NAME_CHARS ? `${masked.slice(0, SHOWN_NAME_CHARS)}…` : masked;
}

/**
 * What a transform did, by field name only — never a value. Feeds the audit record ("which
 * fields were revealed, masked, pseudonymised, dropped") and the masking metrics. Counting is
 * per rule object (one Map update per field), names and classes are derived when asked.
 */
export class FieldReport {
  // Counts per rule: by the rule's slot in its plan (one array update per field, the hot path),
  // or in a map for a rule without one or whose slot another rule already took.
  readonly #slotRules: ReportableRule[] = [];
  readonly #slotCounts: number[] = [];
  readonly #otherRules = new Map<ReportableRule, number>();
  // Unknown field names are upstream data: one may itself be an identifier (an ID number used as
  // a key), so what the report shows is the name after the detectors (and cut to a bounded length).
  readonly #unknown = new Map<string, { action: Action; count: number; shown: string }>();
  readonly detectorHits: DetectorHits = emptyHits();

  record(rule: ReportableRule, fieldName: string): void {
    if (rule.name !== undefined) {
      const slot = rule.slot;
      if (slot !== undefined) {
        const holder = this.#slotRules[slot];
        if (holder === rule) {
          (this.#slotCounts[slot] as number)++;
          return;
        }
        if (holder === undefined) {
          this.#slotRules[slot] = rule;
          this.#slotCounts[slot] = 1;
          return;
        }
      }
      this.#otherRules.set(rule, (this.#otherRules.get(rule) ?? 0) + 1);
      return;
    }
    const seen = this.#unknown.get(fieldName);
    if (seen) seen.count++;
    else if (this.#unknown.size < UNKNOWN_NAMES_CAP) {
      this.#unknown.set(fieldName, { action: rule.operator.action, count: 1, shown: shownName(fieldName) });
    }
  }

  /** Every rule that matched at least one field, with its count. */
  #perRule(): [ReportableRule, number][] {
    const out: [ReportableRule, number][] = [];
    // forEach skips the holes of slots no field used.
    this.#slotRules.forEach((rule, slot) => {
      out.push([rule, this.#slotCounts[slot] as number]);
    });
    for (const entry of this.#otherRules) out.push(entry);
    return out;
  }

  /** Field names per action. */
  get byAction(): Record<Action, Set<string>> {
    const out: Record<Action, Set<string>> = {
      kept: new Set(),
      masked: new Set(),
      pseudonymised: new Set(),
      generalised: new Set(),
      dropped: new Set(),
      nulled: new Set(),
    };
    for (const [rule] of this.#perRule()) out[rule.operator.action].add(rule.name as string);
    for (const { action, shown } of this.#unknown.values()) out[action].add(shown);
    return out;
  }

  /** Occurrences per `class:action` ("C2:masked" → 1200), for metrics. */
  get counts(): Map<string, number> {
    const counts = new Map<string, number>();
    const add = (key: string, n: number) => counts.set(key, (counts.get(key) ?? 0) + n);
    for (const [rule, n] of this.#perRule()) add(`${rule.dataClass}:${rule.operator.action}`, n);
    for (const { action, count } of this.#unknown.values()) add(`unknown:${action}`, count);
    return counts;
  }

  /** Classes released in clear (e.g. C2 kept for credit assessment). */
  get revealedClasses(): Set<string> {
    const classes = new Set<string>();
    for (const [rule] of this.#perRule()) {
      if (rule.operator.action === 'kept' && (rule.dataClass === 'C2' || rule.dataClass === 'C3')) classes.add(rule.dataClass);
    }
    return classes;
  }

  /** A plain, JSON-ready summary (names sorted, capped) for the audit record. */
  toJSON(cap = 64) {
    const by = this.byAction;
    const names = (set: Set<string>) => [...set].sort().slice(0, cap);
    return {
      kept: names(by.kept),
      masked: names(by.masked),
      pseudonymised: names(by.pseudonymised),
      generalised: names(by.generalised),
      dropped: names(new Set([...by.dropped, ...by.nulled])),
      revealedClasses: [...this.revealedClasses].sort(),
      detectorHits: { ...this.detectorHits },
    };
  }
}
