import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { PathIssue } from './issues.js';

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
    const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false });
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

function describe(e: ErrorObject): PathIssue {
  const path = pathOf(e.instancePath);
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      return { path: [...path, key], message: `unknown key "${key}"`, atKey: true };
    }
    case 'required': {
      const key = String((e.params as { missingProperty: string }).missingProperty);
      return { path, message: `missing required key "${key}"` };
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String).join(', ');
      return { path, message: `must be one of: ${allowed}` };
    }
    default:
      return { path, message: e.message ?? `fails ${e.keyword}` };
  }
}

/** Validate a parsed document against the shipped schema; every violation is returned. */
export function validateAgainstSchema(value: unknown): PathIssue[] {
  const validate = validator();
  if (validate(value)) return [];
  const issues = (validate.errors ?? [])
    // A failed oneOf also reports each branch; the branch errors say more than the summary.
    .filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'if')
    .map(describe);
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path.join('/')}|${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
