import type { OperatorSpec } from '../mask/operators.js';
import { closest } from './suggest.js';
import type { BuildContext } from './build-auth.js';
import type { SecretRef } from './secrets.js';
import type { Classification, ClassificationEntry, DataClass, MaskingConfig, ViewConfig, ViewOperator } from './types.js';

export interface RawClassification {
  fields?: Record<string, { class: DataClass; operator?: OperatorSpec }>;
  paths?: Record<string, { class: DataClass; operator?: OperatorSpec }>;
}

export interface RawMasking {
  streamThresholdBytes?: number;
  maxBufferedBytes?: number;
  maxDecompressedBytes?: number;
  pseudonymKeys?: { id: string; secret: SecretRef }[];
  activePseudonymKey?: string;
}

export interface RawView {
  classes?: Partial<Record<DataClass, ViewOperator>>;
  fields?: Record<string, ViewOperator>;
}

/** The operator a class gets when the dictionary names none: C2 fully masked, C3 dropped. */
export function defaultOperatorFor(dataClass: DataClass): OperatorSpec {
  switch (dataClass) {
    case 'C3':
      return 'drop';
    case 'C2':
      return { mask: 'full' };
    default:
      return 'keep';
  }
}

function entries(raw: Record<string, { class: DataClass; operator?: OperatorSpec }> | undefined) {
  const map = new Map<string, ClassificationEntry>();
  for (const [name, e] of Object.entries(raw ?? {})) {
    map.set(name, { class: e.class, operator: e.operator ?? defaultOperatorFor(e.class) });
  }
  return map;
}

export function buildClassification(raw: RawClassification | undefined): Classification {
  return { fields: entries(raw?.fields), paths: entries(raw?.paths) };
}

export function buildMasking(raw: RawMasking | undefined, ctx: BuildContext): MaskingConfig {
  const keys = new Map<string, string>();
  (raw?.pseudonymKeys ?? []).forEach((k, index) => {
    const path = ['masking', 'pseudonymKeys', index];
    if (keys.has(k.id)) ctx.issues.push({ path: [...path, 'id'], message: `duplicate pseudonym key id "${k.id}"` });
    const secret = ctx.secret(k.secret, [...path, 'secret']);
    if (secret !== undefined && secret.length < 32) {
      ctx.issues.push({ path: [...path, 'secret'], message: 'a pseudonym key needs at least 32 characters' });
    }
    keys.set(k.id, secret ?? '');
  });
  const active = raw?.activePseudonymKey ?? (keys.size === 1 ? [...keys.keys()][0] : undefined);
  if (raw?.activePseudonymKey !== undefined && !keys.has(raw.activePseudonymKey)) {
    ctx.issues.push({ path: ['masking', 'activePseudonymKey'], message: `unknown pseudonym key "${raw.activePseudonymKey}"` });
  }
  return {
    streamThresholdBytes: raw?.streamThresholdBytes ?? 1048576,
    maxBufferedBytes: raw?.maxBufferedBytes ?? 16777216,
    maxDecompressedBytes: raw?.maxDecompressedBytes ?? 268435456,
    pseudonymKeys: keys,
    activePseudonymKey: active,
  };
}

/** Every operator spec in a view or dictionary, with its path, for semantic checks. */
function operatorsOf(ops: Record<string, ViewOperator | undefined>): [string, ViewOperator][] {
  return Object.entries(ops).filter((e): e is [string, ViewOperator] => e[1] !== undefined);
}

export function buildViews(
  raw: Record<string, RawView> | undefined,
  at: readonly (string | number)[],
  routePurposes: readonly string[],
  masking: MaskingConfig,
  ctx: BuildContext,
): Record<string, ViewConfig> {
  const views: Record<string, ViewConfig> = Object.create(null);
  for (const [purpose, view] of Object.entries(raw ?? {})) {
    const path = [...at, purpose];
    // A purpose the list misspelt has been reported there; its view is not a second mistake.
    const misspeltInList = routePurposes.some((listed) => closest(listed, [purpose]) === purpose);
    if (!routePurposes.includes(purpose) && !misspeltInList) {
      ctx.issues.push({ path, message: `view for purpose "${purpose}", which is not allowed here` });
    }
    const all = [...operatorsOf(view.classes ?? {}), ...operatorsOf(view.fields ?? {})];
    for (const [name, op] of all) checkPseudonymKey(op, masking, ctx, [...path, name]);
    views[purpose] = { classes: { ...(view.classes ?? {}) }, fields: { ...(view.fields ?? {}) } };
  }
  return views;
}

export function checkPseudonymKey(op: ViewOperator, masking: MaskingConfig, ctx: BuildContext, path: (string | number)[]) {
  const wantsPseudonym = op === 'pseudonym' || (typeof op === 'object' && 'pseudonym' in op);
  if (!wantsPseudonym) return;
  const key = typeof op === 'object' && 'pseudonym' in op ? (op.pseudonym.key ?? masking.activePseudonymKey) : masking.activePseudonymKey;
  if (key === undefined || !masking.pseudonymKeys.has(key)) {
    ctx.issues.push({ path, message: 'pseudonym needs a configured key (masking.pseudonymKeys / activePseudonymKey)' });
  }
}
