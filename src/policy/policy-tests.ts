import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'yaml';
import type { Config } from '../config/types.js';
import { explain, offlineStores, policyWithClaims } from '../pipeline/explain.js';
import { compilePolicy } from './compile.js';

/** One case written by the security team: request + caller + purpose + upstream body → expectation. */
export interface PolicyTestCase {
  name: string;
  request: { method?: string; path: string };
  claims?: Record<string, unknown>;
  /** The application (`clients`) the request comes through; `claims` are then the person's. */
  application?: string;
  purpose?: string;
  upstreamBody?: unknown;
  expect: { decision: 'allow' | 'deny' | 'observe'; reason?: string; view?: unknown; fields?: Record<string, string> };
}

export interface PolicyTestFile {
  /** The policy under test, relative to the tests file (for `custodian test FILE`; a policy that
   * names the file in `policyTests` is itself the policy under test). */
  config?: string;
  /** Evaluate as of this time (review dates, attestations), so tests do not rot. */
  now?: string;
  tests: PolicyTestCase[];
}

export interface CaseResult {
  readonly name: string;
  /** What differs from the expectation; empty when the case passes. */
  readonly problems: readonly string[];
}

/** JSON paths at which two views differ (at most 12), for a failure message without values. */
function differingPaths(expected: unknown, got: unknown, path = '$', out: string[] = []): string[] {
  if (out.length >= 12 || isDeepStrictEqual(expected, got)) return out;
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';
  if (!isObject(expected) || !isObject(got) || Array.isArray(expected) !== Array.isArray(got)) {
    const [a, b] = [describe(expected), describe(got)];
    out.push(a === b ? path : `${path} (${a} expected, ${b} released)`);
    return out;
  }
  for (const key of new Set([...Object.keys(expected), ...Object.keys(got)])) {
    const child = Array.isArray(expected) ? `${path}[${key}]` : `${path}.${key}`;
    if (!(key in got)) out.push(`${child} (expected, not released)`);
    else if (!(key in expected)) out.push(`${child} (released, not expected)`);
    else differingPaths(expected[key], got[key], child, out);
    if (out.length >= 12) break;
  }
  return out;
}

/** A value's kind, never the value. */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Read a tests file; throws with a message naming the file when it is not one. */
export function readPolicyTestFile(file: string): PolicyTestFile {
  let spec: unknown;
  try {
    spec = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: ${(err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message.split('\n')[0] : 'unreadable')}`);
  }
  const tests = (spec as PolicyTestFile | null)?.tests;
  if (!Array.isArray(tests) || tests.length === 0) throw new Error(`${file}: expected { tests: [...] } with at least one case`);
  return spec as PolicyTestFile;
}

/**
 * Run the cases against a configuration, offline (callers given as claims, upstream bodies
 * inline, no restriction, consent or bulk count on file), through the gateway's own `decide`
 * and view — the same code that serves requests.
 */
export async function runPolicyCases(config: Config, spec: PolicyTestFile): Promise<CaseResult[]> {
  const nowMs = spec.now ? Date.parse(spec.now) : Date.now();
  const policy = compilePolicy(config, { now: () => nowMs });
  const stores = offlineStores();
  const results: CaseResult[] = [];
  for (const c of spec.tests) {
    const problems: string[] = [];
    const withClaims = c.claims ? policyWithClaims(policy, { ...c.claims }, c.application) : policy;
    if (typeof withClaims === 'string') problems.push(`claims: ${withClaims}`);
    const e = await explain(
      {
        method: (c.request?.method ?? 'GET').toUpperCase(),
        target: c.request?.path ?? '',
        authorization: [],
        declaredPurposes: c.purpose ? [c.purpose] : [],
        approvals: [],
        declaredBodyBytes: 0,
        certificate: undefined,
      },
      typeof withClaims === 'string' ? policy : withClaims,
      stores,
      c.upstreamBody,
    );
    if (e.decision !== c.expect?.decision) problems.push(`decision: expected ${c.expect?.decision}, got ${e.decision} (${e.reason})`);
    if (c.expect?.reason !== undefined && e.reason !== c.expect.reason) problems.push(`reason: expected ${c.expect.reason}, got ${e.reason}`);
    if (c.expect?.view !== undefined && !isDeepStrictEqual(e.view, c.expect.view)) {
      // Where, never what: these lines reach logs and /readyz, and a view that went wrong may
      // hold the clear values the case exists to keep out.
      problems.push(`view differs at ${differingPaths(c.expect.view, e.view).join(', ')}`);
    }
    for (const [path, action] of Object.entries(c.expect?.fields ?? {})) {
      const got = e.fields.find((f) => f.path === path)?.action;
      if (got !== action) problems.push(`field ${path}: expected ${action}, got ${got ?? 'absent'}`);
    }
    results.push({ name: String(c.name), problems });
  }
  return results;
}

/**
 * The gate every policy passes before it serves (check, start, reload): each tests file the
 * configuration names, run against that configuration. Returns one line per failing case (or
 * unreadable file); empty when every case passes.
 */
export async function failingPolicyTests(config: Config): Promise<{ failures: string[]; passed: number }> {
  const failures: string[] = [];
  let passed = 0;
  for (const file of config.policyTests) {
    let spec: PolicyTestFile;
    try {
      spec = readPolicyTestFile(file);
    } catch (err) {
      failures.push(`policy tests ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    for (const result of await runPolicyCases(config, spec)) {
      if (result.problems.length === 0) passed++;
      else failures.push(`policy test failed: ${file}: "${result.name}": ${result.problems.join('; ')}`);
    }
  }
  return { failures, passed };
}
