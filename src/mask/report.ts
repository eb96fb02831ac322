import { type DetectorHits, emptyHits } from './detectors.js';
import type { Action } from './operators.js';

/**
 * What a transform did, by field name only — never a value. Feeds the audit record ("which
 * fields were revealed, masked, pseudonymised, dropped") and the masking metrics.
 */
export class FieldReport {
  readonly byAction: Record<Action, Set<string>> = {
    kept: new Set(),
    masked: new Set(),
    pseudonymised: new Set(),
    generalised: new Set(),
    dropped: new Set(),
    nulled: new Set(),
  };
  /** Count of field occurrences per class and action ("C2:masked" → 1200), for metrics. */
  readonly counts = new Map<string, number>();
  readonly detectorHits: DetectorHits = emptyHits();
  /** Classes released in clear (e.g. C2 kept for credit assessment). */
  readonly revealedClasses = new Set<string>();

  record(name: string, dataClass: string, action: Action): void {
    this.byAction[action].add(name);
    const key = `${dataClass}:${action}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (action === 'kept' && (dataClass === 'C2' || dataClass === 'C3')) this.revealedClasses.add(dataClass);
  }

  /** A plain, JSON-ready summary (names sorted, capped) for the audit record. */
  toJSON(cap = 64) {
    const names = (set: Set<string>) => [...set].sort().slice(0, cap);
    return {
      kept: names(this.byAction.kept),
      masked: names(this.byAction.masked),
      pseudonymised: names(this.byAction.pseudonymised),
      generalised: names(this.byAction.generalised),
      dropped: names([...this.byAction.dropped, ...this.byAction.nulled].reduce((s, n) => s.add(n), new Set<string>())),
      revealedClasses: [...this.revealedClasses].sort(),
      detectorHits: { ...this.detectorHits },
    };
  }
}
