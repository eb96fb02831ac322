import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { PathIssue } from './issues.js';
import { didYouMean } from './suggest.js';

/**
 * The JSON Schema ships as config/custodian.schema.json so editors can autocomplete policy files;
 * the gateway validates against that same file. The path is the same depth from src/ and dist/.
 */
export const schemaPath = new URL('../../config/custodian.schema.json', import.meta.url);

let compiled: ReturnType<Ajv['compile']> | undefined;

function validator() {
  if (!compiled) {
    const schema: unknown = JSON.parse(readFileSync(schemaPath, 'utf8'));
    // allErrors: the security team sees every problem at once, not one per attempt.
    // verbose: errors carry the schema they failed, so an unknown key can be matched to known ones.
    const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false, verbose: true });
    addFormats.default(ajv, ['date', 'uri']);
    compiled = ajv.compile(schema as object);
  }
  return compiled;
}

function pathOf(instancePath: string): (string | number)[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Keys a schema object allows (for "did you mean" on an unknown key). */
function knownKeys(schema: unknown): string[] {
  const properties = (schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return properties ? Object.keys(properties) : [];
}

function describe(e: ErrorObject): PathIssue {
  const path = pathOf(e.instancePath);
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      return { path: [...path, key], message: `unknown key "${key}"${didYouMean(key, knownKeys(e.parentSchema))}`, atKey: true };
    }
    case 'required': {
      const key = String((e.params as { missingProperty: string }).missingProperty);
      return { path, message: `missing required key "${key}"` };
    }
    case 'enum': {
      const allowedValues = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
      const hint = typeof e.data === 'string' ? didYouMean(e.data, allowedValues) : '';
      const shown = typeof e.data === 'string' || typeof e.data === 'number' ? `"${String(e.data).slice(0, 64)}" is not one of` : 'must be one of';
      return { path, message: `${shown}: ${allowedValues.join(', ')}${hint}` };
    }
    default:
      return { path, message: e.message ?? `fails ${e.keyword}` };
  }
}

// Which of several errors at the same place says most: a wrong name over a wrong type.
const PRIORITY: Record<string, number> = { enum: 0, const: 1, additionalProperties: 2, pattern: 3, format: 3, minimum: 3, maximum: 3, minLength: 3, maxLength: 3, minItems: 3, required: 4, type: 5 };

/**
 * One error per failed alternative. A value that fits none of a `oneOf`'s branches makes every
 * branch report (a typo in `mask: bank_crad` failed seven ways); the branch that got furthest
 * into the value — the deepest error — is the one the author meant, and among errors there the
 * most specific kind wins.
 */
function collapseAlternatives(errors: readonly ErrorObject[]): ErrorObject[] {
  const failed = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf');
  // Outermost first: an alternative nested in another is decided with its parent.
  failed.sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  const claimed = new Set<ErrorObject>();
  const chosen: ErrorObject[] = [];
  for (const alt of failed) {
    if (claimed.has(alt)) continue;
    const branchPrefix = alt.schemaPath.slice(0, -alt.keyword.length);
    const within = errors.filter((e) => e !== alt && e.schemaPath.startsWith(branchPrefix) && isWithin(e.instancePath, alt.instancePath));
    for (const e of within) claimed.add(e);
    claimed.add(alt);
    const candidates = within.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if');
    const depth = (e: ErrorObject) => (e.instancePath.match(/\//g)?.length ?? 0) + (e.keyword === 'additionalProperties' ? 1 : 0);
    candidates.sort((a, b) => depth(b) - depth(a) || (PRIORITY[a.keyword] ?? 3) - (PRIORITY[b.keyword] ?? 3));
    chosen.push(candidates[0] ?? alt);
  }
  return [...errors.filter((e) => !claimed.has(e) && e.keyword !== 'if'), ...chosen];
}

function isWithin(path: string, parent: string): boolean {
  return path === parent || path.startsWith(`${parent}/`);
}

/** Validate a parsed document against the shipped schema; one issue per mistake. */
export function validateAgainstSchema(value: unknown): PathIssue[] {
  const validate = validator();
  if (validate(value)) return [];
  const issues = collapseAlternatives(validate.errors ?? []).map(describe);
  // A misspelt required key is one mistake: "unknown key lawfullBasis; did you mean lawfulBasis"
  // says it, and the "missing required key lawfulBasis" beside it is dropped.
  const suggested = new Set(issues.flatMap((i) => (i.atKey ? [`${i.path.slice(0, -1).join('/')}|${/did you mean "([^"]+)"/.exec(i.message)?.[1]}`] : [])));
  const seen = new Set<string>();
  return issues.filter((i) => {
    const missing = /^missing required key "([^"]+)"$/.exec(i.message)?.[1];
    if (missing !== undefined && suggested.has(`${i.path.join('/')}|${missing}`)) return false;
    const key = `${i.path.join('/')}|${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
