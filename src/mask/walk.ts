import { type DetectorSelection, emptyHits, maskDetected } from './detectors.js';
import { type CompiledOperator, DROP, dropOperator } from './operators.js';
import type { FieldPlan, FieldRule } from './plan.js';
import type { FieldReport } from './report.js';

/** A body the transform refuses to release (too deep, not JSON). Nothing of it is sent. */
export class TransformError extends Error {
  readonly reason: 'too_deep' | 'invalid_json' | 'too_large' | 'truncated' | 'unsupported_content' | 'bad_encoding';
  constructor(reason: TransformError['reason'], options: { cause?: unknown } = {}) {
    super(`response transform failed: ${reason}`, options);
    this.name = 'TransformError';
    this.reason = reason;
  }
}

export const MAX_DEPTH = 2048;

const IDENTIFIER_KEY_RULE: FieldRule = { name: '(identifier key)', dataClass: 'unknown', operator: dropOperator, scan: false };

type Scalar = string | number | boolean;

/**
 * Free text and long numbers in clear are scanned for identifiers — a number with a fraction too
 * (a mobile stored as 13812345678.0 parses to an integer, 13812345678.5 does not).
 */
function scanned(value: Scalar, report: FieldReport, kinds: DetectorSelection): unknown {
  if (typeof value === 'string') return maskDetected(value, report.detectorHits, kinds);
  if (typeof value === 'number' && Math.abs(value) >= 1e10) {
    const text = String(value);
    const masked = maskDetected(text, report.detectorHits, kinds);
    return masked === text ? value : masked;
  }
  return value;
}

/**
 * Set a property on an output object. Output objects are ordinary objects (fast in V8, unlike
 * null-prototype ones); `__proto__` is defined as an own data property so it stays plain data.
 */
function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** Apply a masking operator to a whole subtree: every scalar leaf gets it, structure kept. */
function applyDeep(value: unknown, op: CompiledOperator, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new TransformError('too_deep');
  if (value === null) return null;
  if (Array.isArray(value)) return value.map((v) => applyDeep(v, op, depth + 1));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) put(out, key, applyDeep((value as Record<string, unknown>)[key], op, depth + 1));
    return out;
  }
  return op.apply(value as Scalar);
}

/**
 * Build the purpose's view of a parsed JSON value. The input is never mutated; output objects
 * have no prototype, so hostile keys (`__proto__`, `constructor`) are plain data. Unknown keys
 * follow the plan's `unknown` rule (drop by default).
 */
export function transformValue(value: unknown, plan: FieldPlan, report: FieldReport, path = '$', depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new TransformError('too_deep');
  if (value === null || typeof value !== 'object') {
    // A bare scalar (top level or an array item) has no field name: scan it if detectors are on.
    return plan.detectors && value !== null ? scanned(value as Scalar, report, plan.detectorKinds) : value;
  }
  const tracking = plan.byPath.size > 0;
  if (Array.isArray(value)) {
    const itemPath = tracking ? `${path}[*]` : path;
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = transformValue(value[i], plan, report, itemPath, depth + 1);
    return out;
  }
  const out: Record<string, unknown> = {};
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    const childPath = tracking ? `${path}.${key}` : path;
    const rule: FieldRule = (tracking ? plan.byPath.get(childPath) : undefined) ?? plan.byName.get(key) ?? plan.unknown;
    const child = source[key];
    if (rule === plan.unknown && rule.scan && maskDetected(key, emptyHits(), plan.detectorKinds) !== key) {
      // An unknown key that is itself an identifier ({"13812345678": …}) cannot be masked
      // without colliding with its neighbours: the field is dropped.
      report.record(IDENTIFIER_KEY_RULE, '(identifier key)');
      continue;
    }
    const action = rule.operator.action;
    report.record(rule, key);
    if (action === 'dropped') continue;
    if (action === 'nulled') {
      put(out, key, null);
    } else if (action === 'kept') {
      if (child !== null && typeof child === 'object') {
        put(out, key, transformValue(child, plan, report, childPath, depth + 1));
      } else {
        put(out, key, rule.scan && child !== null ? scanned(child as Scalar, report, plan.detectorKinds) : child);
      }
    } else if (child !== null && typeof child === 'object') {
      put(out, key, applyDeep(child, rule.operator, depth + 1));
    } else {
      const result = child === null ? null : rule.operator.apply(child as Scalar);
      if (result === DROP) continue;
      put(out, key, result);
    }
  }
  return out;
}
