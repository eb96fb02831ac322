import { readFileSync } from 'node:fs';
import type { Config } from '../config/types.js';
import type { Principal } from '../auth/principal.js';
import { compilePolicy } from '../policy/compile.js';
import { explainRequest, principalFromClaims } from '../policy/explain.js';

export interface ExplainArgs {
  readonly method: string;
  readonly path: string;
  readonly purpose: string | undefined;
  /** A JWT: verified against the configured issuers (may fetch a JWKS). */
  readonly token?: string;
  /** Claims as JSON (or @file): no signature, for "what if" questions. */
  readonly claims?: string;
  readonly body?: string;
  readonly json?: boolean;
}

function readMaybeFile(value: string): string {
  return value.startsWith('@') ? readFileSync(value.slice(1), 'utf8') : value;
}

/** `custodian explain`: which route, the decision and why, and the field-by-field view of a sample body. */
export async function runExplain(config: Config, args: ExplainArgs, out: (line: string) => void = console.log): Promise<number> {
  const policy = compilePolicy(config);
  let principal: Principal | undefined;
  if (args.token) {
    const result = await policy.authenticator.authenticate({ authorization: [`Bearer ${args.token}`], rawQuery: '', certificate: undefined });
    if (!result.ok) {
      out(`authentication: refused ${result.code} — ${result.hint}`);
      return 1;
    }
    principal = result.principal;
  } else if (args.claims) {
    const mapped = principalFromClaims(policy, JSON.parse(readMaybeFile(args.claims)) as Record<string, unknown>);
    if (typeof mapped === 'string') {
      out(`claims: ${mapped}`);
      return 1;
    }
    principal = mapped;
  }
  const body = args.body ? (JSON.parse(readFileSync(args.body, 'utf8')) as unknown) : undefined;
  const e = explainRequest(policy, { method: args.method, path: args.path, principal, purposes: args.purpose ? [args.purpose] : [], body });
  if (args.json) {
    out(JSON.stringify(e, null, 2));
    return 0;
  }
  out(`request:   ${args.method.toUpperCase()} ${args.path}`);
  out(`caller:    ${principal ? `${principal.subject} (${principal.kind}${principal.organisation ? `, ${principal.organisation}` : ''}; roles ${principal.roles.join(', ') || 'none'})` : 'none'}`);
  out(`route:     ${e.route ?? '(none)'}`);
  out(`purpose:   ${e.purpose ?? args.purpose ?? '(none)'}`);
  out(`decision:  ${e.decision.toUpperCase()} ${e.reason}`);
  if (e.fields.length > 0) {
    out('fields:');
    const width = Math.max(...e.fields.map((f) => f.path.length));
    for (const f of e.fields) out(`  ${f.path.padEnd(width)}  ${f.class.padEnd(7)} ${f.action.padEnd(13)} (by ${f.rule})`);
    out('view:');
    out(JSON.stringify(e.view, null, 2));
  }
  return 0;
}
