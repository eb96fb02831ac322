import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import t from 'tap';
import { startDemo } from '../../src/demo/run.js';
import { silentLogger } from '../../src/logging.js';
import { certificateFromPem, explain } from '../../src/pipeline/explain.js';
import { tempDir } from '../helpers/gateway.js';

/**
 * `custodian explain` and the running gateway must give the same answer: explain calls the same
 * `decide` with the gateway's stores (read-only) and the same view of the upstream's body. For
 * every README curl line of the demo and a table of callers × purposes × requests, both are asked
 * (explain first, since the gateway's answer counts toward the bulk guard) and must agree on the
 * decision, the refusal code and the field names released. (Regression: explain re-implemented
 * the pipeline without governance and answered ALLOW with eight fields for a partner the gateway
 * gave five fields or 403.)
 */

interface Case {
  readonly name: string;
  readonly token: string | undefined;
  readonly purpose: string | undefined;
  readonly method: string;
  readonly path: string;
  readonly partnerTls: boolean;
}

/** Every key path of a JSON value (array items merged), sorted: "which fields were released". */
function fieldPaths(value: unknown, prefix = '$', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const item of value) fieldPaths(item, `${prefix}[*]`, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.add(`${prefix}.${k}`);
      fieldPaths(v, `${prefix}.${k}`, out);
    }
  }
  return out;
}

t.test('explain and the gateway agree on decision, code and released fields', async (t) => {
  const varDir = tempDir(t, 'custodian-demo-');
  const demo = await startDemo({ varDir, ephemeralPorts: true, logger: silentLogger() });
  t.teardown(() => demo.close());
  const ca = readFileSync(join(varDir, 'demo-ca.pem'), 'utf8');
  const partnerCert = readFileSync(join(varDir, 'partner-cert.pem'), 'utf8');
  const plain = new Agent({ connect: { ca } });
  const partnerAgent = new Agent({ connect: { ca, cert: partnerCert, key: readFileSync(join(varDir, 'partner-key.pem'), 'utf8') } });
  t.teardown(async () => {
    await plain.close();
    await partnerAgent.close();
  });
  const gateway = demo.gateway;
  const dataUrl = gateway.dataUrl.replace('127.0.0.1', 'localhost');
  const upstream = gateway.policy.current.upstreams.get('loans')?.origin as string;
  const stores = { restrictions: gateway.governance.restrictions, consents: gateway.governance.consents, db: gateway.db };

  // The README's curl lines, as the demo prints them.
  const cases: Case[] = [];
  for (const line of demo.instructions.split('\n').map((l) => l.trim())) {
    if (!line.startsWith('curl --cacert')) continue;
    const token = /Bearer \$([A-Z_]+)/.exec(line)?.[1]?.toLowerCase();
    const url = /'(https:[^']+)'/.exec(line)?.[1];
    if (!url) continue; // the plaintext listener's line: no decision is made there
    cases.push({
      name: `README: ${line.slice(0, 120)}`,
      token: token ? demo.tokens[token] : undefined,
      purpose: /X-Purpose: ([a-z_]+)/.exec(line)?.[1],
      method: /-X ([A-Z]+)/.exec(line)?.[1] ?? 'GET',
      path: url.slice(url.indexOf('/', 8)),
      partnerTls: line.includes('--cert'),
    });
  }
  t.ok(cases.length >= 13, `${cases.length} README lines`);

  // The table: every caller (and none, and a forged token) × every purpose on a detail request,
  // plus lists, loans, exports, repayments, a destructive call and malformed targets.
  const callers: [string, string | undefined, boolean][] = [
    ...Object.entries(demo.tokens).map(([name, token]) => [name, token, name === 'partner'] as [string, string, boolean]),
    ['partner without its certificate', demo.tokens.partner, false],
    ['nobody', undefined, false],
    ['a forged token', `${(demo.tokens.credit_officer as string).slice(0, -6)}AAAAAA`, false],
  ];
  const purposes = ['credit_assessment', 'risk_management', 'customer_service', 'collection', 'internal_audit', 'credit_reporting'];
  for (const [who, token, partnerTls] of callers) {
    for (const purpose of purposes) cases.push({ name: `${who} / ${purpose} / detail 42`, token, purpose, method: 'GET', path: '/api/customers/42', partnerTls });
  }
  const more: [string, string, string, string][] = [
    ['cs_agent', 'customer_service', 'GET', '/api/customers?page=2&pageSize=5'],
    ['credit_officer', 'credit_assessment', 'GET', '/api/customers?page=1&pageSize=3'],
    ['collector', 'collection', 'GET', '/api/customers/7/loans'],
    ['risk_analyst', 'risk_management', 'GET', '/api/customers/8/loans'],
    ['collector', 'collection', 'GET', '/api/loans/4201/repayments'],
    ['auditor', 'internal_audit', 'GET', '/api/exports/customers?count=3'],
    ['risk_analyst', 'risk_management', 'GET', '/api/exports/customers?count=3'],
    ['partner', 'credit_reporting', 'GET', '/api/customers/43'],
    ['partner', 'credit_reporting', 'GET', '/api/customers?page=1&pageSize=5'],
    ['cs_agent', 'customer_service', 'DELETE', '/api/customers/42/documents/contract-1'],
    ['credit_officer', 'credit_assessment', 'GET', '/api/customers/42%2f..'],
    ['credit_officer', 'credit_assessment', 'GET', '/api/customers//42'],
    ['credit_officer', 'credit_assessment', 'POST', '/api/customers/42'],
    ['credit_officer', 'credit_assessment', 'GET', '/internal/metrics'],
  ];
  for (const [who, purpose, method, path] of more) {
    cases.push({ name: `${who} / ${purpose} / ${method} ${path}`, token: demo.tokens[who], purpose, method, path, partnerTls: who === 'partner' });
  }
  t.ok(cases.length >= 50 + 13, `${cases.length} cases in all`);

  const disagreements: string[] = [];
  for (const c of cases) {
    const headers: Record<string, string> = {};
    if (c.token) headers.authorization = `Bearer ${c.token}`;
    if (c.purpose) headers['x-purpose'] = c.purpose;
    // What the upstream would answer (GETs only; the demo API is the same process's loopback).
    let body: unknown;
    if (c.method === 'GET') {
      const res = await request(`${upstream}${c.path}`).catch(() => undefined);
      if (res?.statusCode === 200) body = await res.body.json().catch(() => undefined);
      else await res?.body.dump();
    }
    const explained = await explain(
      {
        method: c.method,
        target: c.path,
        authorization: c.token ? [`Bearer ${c.token}`] : [],
        declaredPurposes: c.purpose ? [c.purpose] : [],
        approvals: [],
        declaredBodyBytes: 0,
        certificate: c.partnerTls ? certificateFromPem(partnerCert, ca, Date.now()) : undefined,
      },
      gateway.policy.current,
      stores,
      body,
    );
    const res = await request(`${dataUrl}${c.path}`, { method: c.method as 'GET', headers, dispatcher: c.partnerTls ? partnerAgent : plain });
    const text = await res.body.text();
    const answer = JSON.parse(text) as { error?: { code: string } };
    const gatewayDecision = res.statusCode === 200 ? 'allow' : 'deny';
    const gatewayCode = answer.error?.code ?? 'OK';
    const explainDecision = explained.decision === 'observe' ? 'allow' : explained.decision;
    if (gatewayDecision !== explainDecision || gatewayCode !== explained.reason) {
      disagreements.push(`${c.name}: gateway ${res.statusCode} ${gatewayCode}, explain ${explained.decision} ${explained.reason}`);
      continue;
    }
    if (res.statusCode === 200 && body !== undefined) {
      const released = [...fieldPaths(answer)].sort();
      const predicted = [...fieldPaths(explained.view)].sort();
      if (JSON.stringify(released) !== JSON.stringify(predicted)) disagreements.push(`${c.name}: fields ${released.join(',')} vs ${predicted.join(',')}`);
    }
  }
  t.same(disagreements, [], 'no case where explain and the gateway disagree');
});
