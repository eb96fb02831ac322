import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import { ConsentCache } from '../governance/consents.js';
import { RestrictionCache } from '../governance/restrictions.js';
import { compilePolicy, type Policy } from '../policy/compile.js';
import type { DecisionStores } from '../pipeline/decide.js';
import { certificateFromPem, explain, offlineStores, policyWithClaims } from '../pipeline/explain.js';
import type { RequestFacts } from '../pipeline/facts.js';
import { openDb } from '../store/db.js';
import { migrate } from '../store/migrations.js';

export interface ExplainArgs {
  readonly method: string;
  readonly path: string;
  readonly purpose: string | undefined;
  /** A JWT: verified against the configured issuers (may fetch a JWKS), as the gateway would. */
  readonly token?: string;
  /** Claims as JSON (or @file): no signature, for "what if" questions. */
  readonly claims?: string;
  /** The application (clients) the request comes through; the claims are then the person's. */
  readonly application?: string;
  /** A client certificate (PEM file): presented only if it chains to the configured client CA. */
  readonly cert?: string;
  /** The four-eyes approval id the request would carry. */
  readonly approval?: string;
  /** The upstream's response body (JSON file). */
  readonly body?: string;
  /** Decide without the store, on stated assumptions. */
  readonly offline?: boolean;
  readonly json?: boolean;
  readonly varDir?: string;
}

function readMaybeFile(value: string): string {
  return value.startsWith('@') ? readFileSync(value.slice(1), 'utf8') : value;
}

/** The client CA the data plane verifies against (the demo's generated CA in demo mode). */
function clientCaOf(config: Config, varDir: string): string | undefined {
  if (config.tls.clientCa) return config.tls.clientCa;
  const demoCa = join(varDir, 'demo-ca.pem');
  return config.mode === 'demo' && existsSync(demoCa) ? readFileSync(demoCa, 'utf8') : undefined;
}

/** The configured stores, read once and never written (restrictions, consents, bulk counts). */
async function readOnlyStores(config: Config, varDir: string): Promise<{ stores: DecisionStores; close(): Promise<void> }> {
  const db = await openDb(config.store.databaseUrl, config.store.embeddedDir ?? join(varDir, 'pglite'));
  await migrate(db);
  const restrictions = new RestrictionCache(db);
  const consents = new ConsentCache(db);
  await restrictions.refresh();
  await consents.refresh();
  return { stores: { restrictions, consents, db, readOnly: true }, close: () => db.close() };
}

/**
 * `custodian explain`: what the gateway would do with this request — the same `decide` (with the
 * configured stores, read-only, or `--offline` on stated assumptions) and the same view of the
 * upstream's body, field by field.
 */
export async function runExplain(config: Config, args: ExplainArgs, out: (line: string) => void = console.log): Promise<number> {
  const varDir = args.varDir ?? 'var';
  let policy: Policy = compilePolicy(config);
  const facts: RequestFacts = {
    method: args.method.toUpperCase(),
    target: args.path,
    authorization: args.token ? [`Bearer ${args.token}`] : [],
    declaredPurposes: args.purpose ? [args.purpose] : [],
    approvals: args.approval ? [args.approval] : [],
    declaredBodyBytes: 0,
    certificate: args.cert ? certificateFromPem(readFileSync(args.cert, 'utf8'), clientCaOf(config, varDir), policy.now()) : undefined,
  };
  if (args.claims && !args.token) {
    const withClaims = policyWithClaims(policy, JSON.parse(readMaybeFile(args.claims)) as Record<string, unknown>, args.application);
    if (typeof withClaims === 'string') {
      out(`claims: ${withClaims}`);
      return 1;
    }
    policy = withClaims;
  }
  let opened: Awaited<ReturnType<typeof readOnlyStores>> | undefined;
  if (!args.offline) {
    try {
      opened = await readOnlyStores(config, varDir);
    } catch (err) {
      out(`the store could not be opened (${err instanceof Error ? err.message : 'unknown error'}); use --offline to decide without it`);
      return 2;
    }
  }
  try {
    const body = args.body ? (JSON.parse(readFileSync(args.body, 'utf8')) as unknown) : undefined;
    const e = await explain(facts, policy, opened?.stores ?? offlineStores(), body);
    const { result: _result, ...shown } = e;
    if (args.json) {
      out(JSON.stringify(shown, null, 2));
      return 0;
    }
    const p = e.principal;
    out(`request:   ${facts.method} ${args.path}`);
    out(`caller:    ${p ? `${p.subject} (${p.kind}${p.organisation ? `, ${p.organisation}` : ''}; roles ${p.roles.join(', ') || 'none'})${p.application ? ` through application ${p.application.id}` : ''}` : 'none'}`);
    out(`route:     ${e.route ?? '(none)'}`);
    out(`purpose:   ${e.purpose ?? args.purpose ?? '(none)'}`);
    out(`decision:  ${e.decision.toUpperCase()} ${e.reason}`);
    for (const a of e.assumptions) out(`assumed:   ${a}`);
    if (e.scope && (e.scope.restrictedDropped || e.scope.unconsentedDropped || e.scope.bulkWithheld)) {
      out(`removed:   ${e.scope.restrictedDropped} restricted, ${e.scope.unconsentedDropped} without consent, ${e.scope.bulkWithheld} over the bulk limit`);
    }
    if (e.fields.length > 0) {
      out('fields:');
      const width = Math.max(...e.fields.map((f) => f.path.length));
      for (const f of e.fields) out(`  ${f.path.padEnd(width)}  ${f.class.padEnd(7)} ${f.action.padEnd(13)} (by ${f.rule})`);
      out('view:');
      out(JSON.stringify(e.view, null, 2));
    }
    return 0;
  } finally {
    await opened?.close();
  }
}
