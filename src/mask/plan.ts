import { defaultOperatorFor } from '../config/build-masking.js';
import type { Classification, DataClass, RouteConfig, ViewConfig, ViewOperator } from '../config/types.js';
import { type CompiledOperator, compileOperator, dropOperator, keepOperator, type OperatorSpec } from './operators.js';
import { type DetectorSelection, detectorSelection } from './detectors.js';
import type { PseudonymKeys } from './pseudonym.js';

/** How one classified field is treated under one view. */
export interface FieldRule {
  /** The dictionary name or JSON path; undefined for the unknown-field rule. */
  readonly name: string | undefined;
  /** The field's class, or `unknown` for a field the dictionary does not name. */
  readonly dataClass: DataClass | 'unknown';
  readonly operator: CompiledOperator;
  /** Free text released in clear under this rule is scanned by the detectors. */
  readonly scan: boolean;
  /** The rule's index in its plan: the field report counts by it (an array slot, not a map). */
  readonly slot?: number;
}

/**
 * The compiled view of one route for one purpose: per-request masking is map lookups.
 * Maps, not objects, so a key named `__proto__` or `constructor` is just a name.
 */
export interface FieldPlan {
  readonly byName: ReadonlyMap<string, FieldRule>;
  readonly byPath: ReadonlyMap<string, FieldRule>;
  readonly unknown: FieldRule;
  readonly detectors: boolean;
  /** The kinds of identifier the detectors look for on this route. */
  readonly detectorKinds: DetectorSelection;
}

const CLASS_DEFAULTS: Record<DataClass, ViewOperator> = { public: 'keep', C1: 'keep', C2: 'default', C3: 'drop' };

/**
 * The operator a view applies to a dictionary entry. Precedence: the view's rule for this
 * field, then for its class, then the class default. C3 (secrets) stays dropped unless a view
 * names it explicitly (field or class).
 */
export function chosenOperatorSpec(name: string, entry: { class: DataClass; operator: OperatorSpec }, view: ViewConfig | undefined): OperatorSpec {
  const chosen: ViewOperator = view?.fields[name] ?? view?.classes[entry.class] ?? CLASS_DEFAULTS[entry.class];
  return chosen === 'default' ? (entry.operator ?? defaultOperatorFor(entry.class)) : chosen;
}

function ruleFor(
  name: string,
  entry: { class: DataClass; operator: OperatorSpec },
  view: ViewConfig | undefined,
  keys: PseudonymKeys,
  detectors: boolean,
  slot: number,
): FieldRule {
  const operator = compileOperator(chosenOperatorSpec(name, entry, view), keys);
  const clearText = entry.class === 'public' || entry.class === 'C1';
  return Object.freeze({ name, dataClass: entry.class, operator, scan: detectors && clearText && operator.action === 'kept', slot });
}

export function compileFieldPlan(
  route: RouteConfig,
  purpose: string,
  classification: Classification,
  keys: PseudonymKeys,
): FieldPlan {
  const view = route.views[purpose];
  const byName = new Map<string, FieldRule>();
  let slot = 0;
  for (const [name, entry] of classification.fields) byName.set(name, ruleFor(name, entry, view, keys, route.detectors, slot++));
  const byPath = new Map<string, FieldRule>();
  for (const [path, entry] of classification.paths) {
    byPath.set(path, ruleFor(path, entry, view, keys, route.detectors, slot++));
  }
  const unknown: FieldRule =
    route.unknownFields === 'keep'
      ? { name: undefined, dataClass: 'unknown', operator: keepOperator, scan: route.detectors }
      : { name: undefined, dataClass: 'unknown', operator: dropOperator, scan: false };
  return { byName, byPath, unknown, detectors: route.detectors, detectorKinds: detectorSelection(route.detectorKinds) };
}
