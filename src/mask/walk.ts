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
 * Set a property of the value being rewritten. `__proto__` (an own data property, as JSON.parse
 * makes it) is redefined rather than assigned: assigning would call Object.prototype's setter
 * and swap the object's prototype instead of changing the field.
 */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** Apply a masking operator to a whole subtree: every scalar leaf gets it, structure kept. */
function applyDeep(value: unknown, op: CompiledOperator, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new TransformError('too_deep');
  if (value === null) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = applyDeep(value[i], op, depth + 1);
    return value;
  }
  if (typeof value === 'object') {
    const source = value as Record<string, unknown>;
    for (const key of Object.keys(source)) put(source, key, applyDeep(source[key], op, depth + 1));
    return source;
  }
  const result = op.apply(value as Scalar);
  return result === DROP ? undefined : result;
}

/**
 * Rewrite a freshly parsed JSON value, in place, into the purpose's view, and return it for
 * JSON.stringify. In place because the value is the request's own and is thrown away once
 * serialised: building a second tree cost more than the masking (allocations, and keyed stores
 * that lose the parsed objects' shapes). A field the view drops is set to undefined, which
 * JSON.stringify leaves out, so what is returned must only be serialised by it — never read
 * field by field — and the caller must not hold the value for anything else. Hostile keys
 * (`__proto__`, `constructor`) stay plain data. Unknown keys follow the plan's `unknown` rule
 * (drop by default).
 */
export function applyView(value: unknown, plan: FieldPlan, report: FieldReport, path = '$', depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new TransformError('too_deep');
  if (value === null || typeof value !== 'object') {
    // A bare scalar (top level or an array item) has no field name: scan it if detectors are on.
    return plan.detectors && value !== null ? scanned(value as Scalar, report, plan.detectorKinds) : value;
  }
  const tracking = plan.byPath.size > 0;
  if (Array.isArray(value)) {
    const itemPath = tracking ? `${path}[*]` : path;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const viewed = applyView(item, plan, report, itemPath, depth + 1);
      if (viewed !== item) value[i] = viewed;
    }
    return value;
  }
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    const childPath = tracking ? `${path}.${key}` : path;
    const rule: FieldRule = (tracking ? plan.byPath.get(childPath) : undefined) ?? plan.byName.get(key) ?? plan.unknown;
    const child = source[key];
    if (rule === plan.unknown && rule.scan && maskDetected(key, emptyHits(), plan.detectorKinds) !== key) {
      // An unknown key that is itself an identifier ({"13812345678": …}) cannot be masked
      // without colliding with its neighbours: the field is dropped.
      report.record(IDENTIFIER_KEY_RULE, '(identifier key)');
      put(source, key, undefined);
      continue;
    }
    const action = rule.operator.action;
    report.record(rule, key);
    if (action === 'kept') {
      if (child !== null && typeof child === 'object') applyView(child, plan, report, childPath, depth + 1);
      else if (rule.scan && child !== null) {
        const masked = scanned(child as Scalar, report, plan.detectorKinds);
        if (masked !== child) put(source, key, masked);
      }
    } else if (action === 'dropped') {
      put(source, key, undefined);
    } else if (action === 'nulled') {
      put(source, key, null);
    } else if (child !== null && typeof child === 'object') {
      applyDeep(child, rule.operator, depth + 1);
    } else if (child !== null) {
      const result = rule.operator.apply(child as Scalar);
      put(source, key, result === DROP ? undefined : result);
    }
  }
  return source;
}
