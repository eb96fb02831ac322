import { DETECTOR_KINDS } from '../../src/mask/detectors.js';
import type { Classification, ClassificationEntry, DataClass, RouteConfig, ViewConfig } from '../../src/config/types.js';
import type { OperatorSpec } from '../../src/mask/operators.js';
import { compileFieldPlan, type FieldPlan } from '../../src/mask/plan.js';

export const PSEUDONYM_KEYS = { active: 'p1', secrets: new Map([['p1', 'test-pseudonym-key-0123456789abcdef']]) };

/** The demo-like dictionary used by masking tests. */
export function dictionary(extra: Record<string, [DataClass, OperatorSpec?]> = {}): Classification {
  const base: Record<string, [DataClass, OperatorSpec?]> = {
    name: ['C2', { mask: 'name' }],
    idNumber: ['C2', { mask: 'resident_id' }],
    mobile: ['C2', { mask: 'mobile' }],
    bankCard: ['C2', { mask: 'bank_card' }],
    address: ['C2', { mask: 'address' }],
    birthDate: ['C2', { generalize: 'year' }],
    monthlyIncome: ['C2', { generalize: { buckets: [5000, 10000, 20000] } }],
    password: ['C3', 'drop'],
    remarks: ['C1', 'keep'],
    id: ['public', 'keep'],
    items: ['public', 'keep'],
    ...extra,
  };
  const fields = new Map<string, ClassificationEntry>();
  for (const [name, [cls, op]] of Object.entries(base)) {
    fields.set(name, { class: cls, operator: op ?? (cls === 'C3' ? 'drop' : cls === 'C2' ? { mask: 'full' } : 'keep') });
  }
  return { fields, paths: new Map() };
}

export function planFor(
  options: { view?: Partial<ViewConfig>; unknownFields?: 'drop' | 'keep'; detectors?: boolean; classification?: Classification } = {},
): FieldPlan {
  const route: RouteConfig = {
    id: 'r',
    methods: ['GET'],
    path: '/r',
    upstream: 'u',
    purposes: ['p'],
    unknownFields: options.unknownFields ?? 'drop',
    detectors: options.detectors ?? true,
    detectorKinds: DETECTOR_KINDS,
    observe: false,
    passthrough: [],
    subjects: [],
    destructive: false,
    responseHeaders: { release: [], scan: [] },
    views: options.view ? { p: { classes: options.view.classes ?? {}, fields: options.view.fields ?? {} } } : {},
  };
  return compileFieldPlan(route, 'p', options.classification ?? dictionary(), PSEUDONYM_KEYS);
}
