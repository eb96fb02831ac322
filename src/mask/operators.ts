import { type MaskPreset, applyPreset, keepEnds } from './presets.js';
import { pseudonymise, type PseudonymKeys } from './pseudonym.js';

/** An operator as written in policy YAML. */
export type OperatorSpec =
  | 'keep'
  | 'drop'
  | 'null'
  | 'pseudonym'
  | { mask: MaskPreset | { keepFirst?: number; keepLast?: number; fill?: string } }
  | { pseudonym: { key?: string } }
  | { generalize: 'year' | 'year_month' | { buckets: number[] } | { range: number } };

/** What an operator did to a field, for the field report. */
export type Action = 'kept' | 'masked' | 'pseudonymised' | 'generalised' | 'dropped' | 'nulled';

/** Removing the key, as opposed to setting it to a value. */
export const DROP: unique symbol = Symbol('drop');

export interface CompiledOperator {
  readonly action: Action;
  /** Applied to scalar values only (string, number, boolean). Never mutates, never adds keys. */
  apply(value: string | number | boolean): unknown;
}

const KEEP: CompiledOperator = { action: 'kept', apply: (v) => v };
const DROP_OP: CompiledOperator = { action: 'dropped', apply: () => DROP };
const NULL_OP: CompiledOperator = { action: 'nulled', apply: () => null };

function generalizeDate(value: string | number | boolean, length: 4 | 7): unknown {
  // ISO dates and date-times: 1987-10-08, 1987-10-08T09:30:00Z → 1987 or 1987-10.
  if (typeof value !== 'string' || !/^\d{4}-\d{2}(-\d{2})?([T ].*)?$/.test(value)) return null;
  return value.slice(0, length);
}

function bucketOf(value: number, bounds: readonly number[]): string {
  const first = bounds[0] as number;
  if (value < first) return `<${first}`;
  for (let i = 1; i < bounds.length; i++) {
    const upper = bounds[i] as number;
    if (value < upper) return `${bounds[i - 1]}-${upper - 1}`;
  }
  return `≥${bounds[bounds.length - 1]}`;
}

function asNumber(value: string | number | boolean): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  return undefined;
}

/** Compile an operator spec once; throws on a spec the schema should have refused. */
export function compileOperator(spec: OperatorSpec, keys: PseudonymKeys): CompiledOperator {
  if (spec === 'keep') return KEEP;
  if (spec === 'drop') return DROP_OP;
  if (spec === 'null') return NULL_OP;
  if (spec === 'pseudonym' || 'pseudonym' in spec) {
    const keyId = (typeof spec === 'object' ? spec.pseudonym.key : undefined) ?? keys.active;
    const secret = keyId === undefined ? undefined : keys.secrets.get(keyId);
    if (keyId === undefined || secret === undefined) throw new Error('pseudonym operator without a configured key');
    return { action: 'pseudonymised', apply: (v) => pseudonymise(String(v), keyId, secret) };
  }
  if ('mask' in spec) {
    const m = spec.mask;
    if (typeof m === 'string') return { action: 'masked', apply: (v) => applyPreset(m, String(v)) };
    const first = m.keepFirst ?? 0;
    const last = m.keepLast ?? 0;
    const fill = m.fill ?? '*';
    return { action: 'masked', apply: (v) => keepEnds(String(v), first, last, fill) };
  }
  const g = spec.generalize;
  if (g === 'year') return { action: 'generalised', apply: (v) => generalizeDate(v, 4) };
  if (g === 'year_month') return { action: 'generalised', apply: (v) => generalizeDate(v, 7) };
  if ('buckets' in g) {
    const bounds = [...g.buckets].sort((a, b) => a - b);
    return {
      action: 'generalised',
      apply: (v) => {
        const n = asNumber(v);
        return n === undefined ? null : bucketOf(n, bounds);
      },
    };
  }
  const width = g.range;
  return {
    action: 'generalised',
    apply: (v) => {
      const n = asNumber(v);
      if (n === undefined) return null;
      const low = Math.floor(n / width) * width;
      return `${low}-${low + width - 1}`;
    },
  };
}

export const keepOperator = KEEP;
export const dropOperator = DROP_OP;
