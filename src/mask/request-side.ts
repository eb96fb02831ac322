import type { Classification } from '../config/types.js';
import { emptyHits, maskDetected } from './detectors.js';
import { compileOperator } from './operators.js';
import { maskAll } from './presets.js';

/**
 * Request-side masking for what the gateway itself writes (log lines, audit records). The
 * upstream still receives the clear values it needs to look records up; only our own copies of
 * paths, query strings and parameters are masked.
 */
const NO_KEYS = { active: undefined, secrets: new Map<string, string>() };

type Entry = NonNullable<ReturnType<Classification['fields']['get']>>;

/**
 * The display operator of a C2 dictionary entry, compiled once per entry (entries belong to a
 * frozen configuration, so a reload's new entries get their own). Pseudonym keys are not used
 * here: a log line gets the display mask or a full mask.
 */
const compiledForLog = new WeakMap<Entry, ReturnType<typeof compileOperator>>();
function logOperator(entry: Entry): ReturnType<typeof compileOperator> {
  let op = compiledForLog.get(entry);
  if (!op) {
    const spec = 'mask' in (typeof entry.operator === 'object' ? entry.operator : {}) ? entry.operator : { mask: 'full' as const };
    op = compileOperator(spec, NO_KEYS);
    compiledForLog.set(entry, op);
  }
  return op;
}

function maskValue(name: string, value: string, classification: Classification): string {
  const entry = classification.fields.get(name);
  if (entry && (entry.class === 'C2' || entry.class === 'C3')) {
    if (entry.class === 'C3') return '[redacted]';
    const result = logOperator(entry).apply(value);
    return typeof result === 'string' ? result : maskAll(value);
  }
  return maskDetected(value, emptyHits());
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return s;
  }
}

/** The query string with classified parameters masked and every value scanned. */
export function maskQuery(rawQuery: string, classification: Classification): string {
  if (rawQuery === '') return '';
  return rawQuery
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return maskDetected(safeDecode(pair), emptyHits());
      const name = safeDecode(pair.slice(0, eq));
      return `${name}=${maskValue(name, safeDecode(pair.slice(eq + 1)), classification)}`;
    })
    .join('&');
}

/** The path with every segment scanned and classified path parameters masked. */
export function maskPath(
  segments: readonly string[],
  params: Readonly<Record<string, string>>,
  classification: Classification,
): string {
  const byValue = new Map<string, string>();
  for (const [name, value] of Object.entries(params)) byValue.set(value, maskValue(name, value, classification));
  return `/${segments.map((s) => byValue.get(s) ?? maskDetected(s, emptyHits())).join('/')}`;
}

/** A JSON request body as it may appear in a log: classified fields masked, free text scanned. */
export function maskJsonForLog(value: unknown, classification: Classification, depth = 0): unknown {
  if (depth > 64) return '[truncated]';
  if (Array.isArray(value)) return value.map((v) => maskJsonForLog(v, classification, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = Object.create(null);
    for (const [k, v] of Object.entries(value)) {
      out[k] = typeof v === 'string' || typeof v === 'number' ? maskValue(k, String(v), classification) : maskJsonForLog(v, classification, depth + 1);
    }
    return out;
  }
  return typeof value === 'string' ? maskDetected(value, emptyHits()) : value;
}
