import { isDeepStrictEqual } from 'node:util';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../config/load.js';
import { compilePolicy } from '../policy/compile.js';
import { explain, offlineStores, policyWithClaims } from '../pipeline/explain.js';

/** One case written by the security team: request + caller + purpose + upstream body → expectation. */
interface PolicyTestCase {
  name: string;
  request: { method?: string; path: string };
  claims?: Record<string, unknown>;
  purpose?: string;
  upstreamBody?: unknown;
  expect: { decision: 'allow' | 'deny' | 'observe'; reason?: string; view?: unknown; fields?: Record<string, string> };
}

interface PolicyTestFile {
  /** The policy under test, relative to the tests file. */
  config: string;
  /** Evaluate as of this time (review dates, attestations), so tests do not rot. */
  now?: string;
  tests: PolicyTestCase[];
}

/**
 * `custodian test FILE`: run policy test cases without network (callers are given as claims,
 * upstream bodies inline) through the gateway's own `decide` and view, offline (no restriction,
 * consent or bulk count on file). Prints TAP-like ok/not ok lines; exit 1 if any case fails.
 */
export async function runPolicyTests(file: string, out: (line: string) => void = console.log): Promise<number> {
  const spec = parse(readFileSync(file, 'utf8')) as PolicyTestFile;
  if (!spec || typeof spec.config !== 'string' || !Array.isArray(spec.tests)) {
    out(`${file}: expected { config: <file>, tests: [...] }`);
    return 2;
  }
  const config = loadConfig(resolve(dirname(file), spec.config));
  const nowMs = spec.now ? Date.parse(spec.now) : Date.now();
  const policy = compilePolicy(config, { now: () => nowMs });
  let failed = 0;
  const stores = offlineStores();
  for (const [i, c] of spec.tests.entries()) {
    const problems: string[] = [];
    const withClaims = c.claims ? policyWithClaims(policy, { ...c.claims }) : policy;
    if (typeof withClaims === 'string') problems.push(`claims: ${withClaims}`);
    const e = await explain(
      {
        method: (c.request.method ?? 'GET').toUpperCase(),
        target: c.request.path,
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
    if (e.decision !== c.expect.decision) problems.push(`decision: expected ${c.expect.decision}, got ${e.decision} (${e.reason})`);
    if (c.expect.reason !== undefined && e.reason !== c.expect.reason) problems.push(`reason: expected ${c.expect.reason}, got ${e.reason}`);
    if (c.expect.view !== undefined && !isDeepStrictEqual(e.view, c.expect.view)) {
      problems.push(`view: expected ${JSON.stringify(c.expect.view)}, got ${JSON.stringify(e.view)}`);
    }
    for (const [path, action] of Object.entries(c.expect.fields ?? {})) {
      const got = e.fields.find((f) => f.path === path)?.action;
      if (got !== action) problems.push(`field ${path}: expected ${action}, got ${got ?? 'absent'}`);
    }
    if (problems.length === 0) out(`ok ${i + 1} - ${c.name}`);
    else {
      failed++;
      out(`not ok ${i + 1} - ${c.name}`);
      for (const p of problems) out(`  # ${p}`);
    }
  }
  out(`# ${spec.tests.length - failed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}
