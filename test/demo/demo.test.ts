import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { startDemo } from '../../src/demo/run.js';
import { silentLogger } from '../../src/logging.js';
import { tempDir } from '../helpers/gateway.js';
import { demoEnv } from '../helpers/demo-env.js';
import { requireTool } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';
import { isolatedDemo } from '../helpers/isolated-demo.js';

const exec = promisify(execFile);

t.test('the demo: every printed curl line does what its comment says', async (t) => {
  const varDir = tempDir(t, 'custodian-demo-');
  const demo = await startDemo({ varDir, ephemeralPorts: true, logger: silentLogger() });
  t.teardown(() => demo.close());

  const tokens = JSON.parse(readFileSync(join(varDir, 'demo-tokens.json'), 'utf8'));
  t.same(Object.keys(tokens).sort(), ['auditor', 'collector', 'credit_officer', 'cs_agent', 'partner', 'risk_analyst', 'training_lapsed']);
  for (const [name, token] of Object.entries(tokens)) {
    t.match(demo.instructions, `${name.toUpperCase()}=${token}`, `${name} token printed`);
  }

  const lines = demo.instructions.split('\n').map((l) => l.trim());
  const source = lines.find((l) => l.startsWith('source '));
  t.ok(source, 'prints how to load the tokens');
  const examples: { expect: string; command: string }[] = [];
  lines.forEach((line, i) => {
    if (line.startsWith('# expect ')) examples.push({ expect: line.slice('# expect '.length), command: lines[i + 1] ?? '' });
  });
  t.ok(examples.length >= 10, 'allowed and refused examples');
  t.ok(examples.some((e) => e.expect.startsWith('200')) && examples.some((e) => e.expect.startsWith('403')));

  for (const { expect, command } of examples) {
    if (expect.startsWith('psql ')) {
      // The loan database through the PostgreSQL front end: output (or error) contains the text.
      if (!requireTool(t, 'psql')) continue;
      t.match(command, /^PGPASSWORD=\$[A-Z_]+ psql /);
      const out = await exec('bash', ['-c', `${source}\n${command} 2>&1 || true`], { cwd: process.cwd() });
      t.ok(out.stdout.includes(expect.slice('psql '.length)), `${command.slice(0, 140)} → ${expect}`);
      continue;
    }
    t.match(command, /^curl /);
    const [status, code] = expect.split(' ');
    const script = `${source}\n${command} -s -w '\\n%{http_code}'`;
    const { stdout } = await exec('bash', ['-c', script], { cwd: process.cwd() });
    const body = stdout.slice(0, stdout.lastIndexOf('\n'));
    const httpCode = stdout.slice(stdout.lastIndexOf('\n') + 1);
    t.equal(httpCode, status, `${command.slice(0, 140)} → ${status}`);
    if (code?.startsWith('CUSTODIAN_')) t.equal(JSON.parse(body).error.code, code, code);
    if (status === '200') t.match(JSON.parse(body), Object, 'JSON from the demo loan API through the proxy');
  }
});

t.test('the demo shows one customer through four purposes with visibly different views', async (t) => {
  const { Agent, request } = await import('undici');
  const { customer } = await import('../../src/demo/dataset.js');
  const varDir = tempDir(t, 'custodian-demo-');
  const demo = await startDemo({ varDir, ephemeralPorts: true, logger: silentLogger() });
  t.teardown(() => demo.close());
  const ca = readFileSync(join(varDir, 'demo-ca.pem'), 'utf8');
  const dispatcher = new Agent({ connect: { ca } });
  t.teardown(() => dispatcher.close());
  const view = async (token: string, purpose: string, path = '/api/customers/42') => {
    const res = await request(`${demo.gateway.dataUrl.replace('127.0.0.1', 'localhost')}${path}`, {
      dispatcher,
      headers: { authorization: `Bearer ${token}`, 'x-purpose': purpose },
    });
    t.equal(res.statusCode, 200, `${purpose} ${path}`);
    return res.body.json() as Promise<Record<string, unknown>>;
  };
  const clear = customer(42);
  const credit = await view(demo.tokens.credit_officer as string, 'credit_assessment');
  const risk = await view(demo.tokens.risk_analyst as string, 'risk_management');
  const service = await view(demo.tokens.cs_agent as string, 'customer_service');
  const collection = await view(demo.tokens.collector as string, 'collection');

  t.equal(credit.idNumber, clear.idNumber, 'credit assessment: identity in clear');
  t.equal(credit.monthlyIncome, clear.monthlyIncome);
  t.equal(credit.bankCard, `**** ${clear.bankCard.slice(-4)}`, 'card by its last four only');

  t.match(risk.idNumber, /^p1_/, 'risk management: a pseudonym, stable for joins');
  t.equal((await view(demo.tokens.risk_analyst as string, 'risk_management')).idNumber, risk.idNumber);
  t.equal(risk.birthDate, clear.birthDate.slice(0, 4), 'age generalised to a year');
  t.match(risk.monthlyIncome, /^(<\d+|\d+-\d+|≥\d+)$/, 'income as a bucket');
  t.notOk('mobile' in risk, 'no contact data');

  t.equal(service.idNumber, `${clear.idNumber.slice(0, 4)}**********${clear.idNumber.slice(-4)}`, 'customer service: masked');
  t.equal(service.mobile, `${clear.mobile.slice(0, 3)}****${clear.mobile.slice(-4)}`);
  t.notOk('monthlyIncome' in service);

  t.equal(collection.mobile, clear.mobile, 'collection: reach the customer');
  t.equal(collection.name, clear.name);
  t.notOk('monthlyIncome' in collection);
  t.not(collection.idNumber, clear.idNumber);

  const views = [credit, risk, service, collection].map((v) => JSON.stringify(v));
  t.equal(new Set(views).size, 4, 'four different views of the same record');
  for (const v of views) t.notMatch(v, /身份证号\d{17}/, 'remarks never carry a clear ID');

  const exported = await view(demo.tokens.risk_analyst as string, 'risk_management', '/api/exports/customers?count=3000');
  const rows = exported as unknown as Record<string, unknown>[];
  t.equal(rows.length, 3000, 'the export streams through the masker');
  t.ok(rows.every((r) => typeof r.idNumber === 'string' && (r.idNumber as string).startsWith('p1_') && !('mobile' in r)));

  // Every audit record this demo traffic wrote, in the journal and in the store: no clear value
  // of any demo customer (resident ID, mobile, card number, name) appears.
  await demo.gateway.audit.shipper.shipOnce();
  const { listSegments } = await import('../../src/audit/segments.js');
  const journalText = (await listSegments(join(varDir, 'audit'))).map((s) => readFileSync(s.file, 'utf8')).join('\n');
  const dbRows = await demo.gateway.db.query<{ record_text: string }>('SELECT record_text FROM audit_events');
  const dbText = dbRows.rows.map((r) => r.record_text).join('\n');
  t.ok(journalText.length > 1000 && dbRows.rows.length > 10, `${dbRows.rows.length} records to scan`);
  const leaks: string[] = [];
  for (let id = 1; id <= 3000; id++) {
    const c = customer(id);
    for (const [kind, value] of [['idNumber', c.idNumber], ['mobile', c.mobile], ['bankCard', c.bankCard], ['name', c.name]] as const) {
      if (journalText.includes(value) || dbText.includes(value)) leaks.push(`customer ${id} ${kind}`);
    }
  }
  t.same(leaks, [], 'no clear resident ID, mobile, card number or name in any audit record');
});

t.test('the demo tells the governance story: restricted customer, insider bulk read, four-eyes destruction', async (t) => {
  const { Agent, request } = await import('undici');
  const varDir = tempDir(t, 'custodian-demo-');
  const demo = await startDemo({ varDir, ephemeralPorts: true, logger: silentLogger() });
  t.teardown(() => demo.close());
  const env = demoEnv(varDir);
  const dispatcher = new Agent({ connect: { ca: readFileSync(join(varDir, 'demo-ca.pem'), 'utf8') } });
  t.teardown(() => dispatcher.close());
  const data = async (token: string, purpose: string, path: string, init: { method?: string; headers?: Record<string, string> } = {}) => {
    const res = await request(`${demo.gateway.dataUrl.replace('127.0.0.1', 'localhost')}${path}`, {
      dispatcher,
      method: (init.method ?? 'GET') as 'GET',
      headers: { authorization: `Bearer ${token}`, 'x-purpose': purpose, ...init.headers },
    });
    const body = (await res.body.json()) as { error?: { code: string } };
    return { status: res.statusCode, code: body.error?.code };
  };
  const admin = async (token: string, path: string, body: unknown) => {
    const res = await request(`${demo.gateway.adminUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return (await res.body.json()) as { id: string };
  };

  // A customer objects: from then on, their data is refused.
  await admin(env.OFFICER as string, '/admin/restrictions', { customerId: '77', kind: 'objection', ticket: 'OBJ-2026-5' });
  t.match(await data(env.CREDIT_OFFICER as string, 'credit_assessment', '/api/customers/77'), { status: 403, code: 'CUSTODIAN_SUBJECT_RESTRICTED' });

  // A destruction needs a second person.
  const path = '/api/customers/42/documents/contract-1';
  t.match(await data(env.CS_AGENT as string, 'customer_service', path, { method: 'DELETE' }), { status: 403, code: 'CUSTODIAN_APPROVAL_REQUIRED' });
  const approval = await admin(env.APPROVER as string, '/admin/approvals', { method: 'DELETE', path, requester: 'staff-0108', reason: 'customer request' });
  t.match(await data(env.CS_AGENT as string, 'customer_service', path, { method: 'DELETE', headers: { 'x-approval': approval.id } }), { status: 200 });

  // An insider pages through the customer list (200 customers an hour allowed). Customer 77 is
  // restricted and left out of page 1, and 42 was counted by the deletion: 99 customers after page
  // 1, 199 after page 2; page 3 releases the one customer left in the budget (the other 99 are
  // withheld, and the response says so); page 4 is refused.
  const pages = [];
  const released: number[] = [];
  for (let page = 1; page <= 4; page++) {
    const res = await request(`${demo.gateway.dataUrl.replace('127.0.0.1', 'localhost')}/api/customers?page=${page}&pageSize=100`, {
      dispatcher,
      headers: { authorization: `Bearer ${env.CS_AGENT}`, 'x-purpose': 'customer_service' },
    });
    const body = (await res.body.json()) as { items?: unknown[] };
    pages.push(res.statusCode);
    released.push(body.items?.length ?? 0);
    if (page === 3) t.equal(res.headers['x-custodian-bulk-withheld'], '99', 'page 3 says how many customers were withheld');
  }
  t.same(pages, [200, 200, 200, 429], 'the bulk read is stopped');
  t.same(released, [99, 100, 1, 0], 'never more distinct customers than the limit');
  // Only this caller's rows: with DATABASE_URL, other test files share the table.
  const counted = await demo.gateway.db.query<{ n: string }>("SELECT count(*) AS n FROM bulk_access WHERE purpose = 'customer_service' AND caller = 'staff::staff-0108'");
  t.equal(Number(counted.rows[0]?.n), 200, 'the count is what was released: the limit exactly, the restricted customer never');
});

interface PortalPage {
  customer: Record<string, unknown>;
  loans: unknown[];
  loanApi?: { error?: { code?: string } };
}

t.test('an existing application behind the gateway: the demo portal, changed only in its base URL', async (t) => {
  const { customer } = await import('../../src/demo/dataset.js');
  const varDir = tempDir(t, 'custodian-demo-');
  // Its own store: the access history below must hold this test's requests only.
  const demo = await isolatedDemo(t, varDir);
  const env = demoEnv(varDir);
  const page = async (token: string | undefined) => {
    const res = await fetch(`${demo.portalUrl}/portal/customers/42`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: (await res.json()) as PortalPage };
  };

  const agent = await page(env.CS_AGENT);
  t.equal(agent.status, 200, 'the agent\'s page');
  const clear = customer(42);
  t.equal(agent.body.customer.id, 42);
  t.equal(agent.body.customer.idNumber, `${clear.idNumber.slice(0, 4)}**********${clear.idNumber.slice(-4)}`, 'the customer-service view: ID masked');
  t.equal(agent.body.customer.mobile, `${clear.mobile.slice(0, 3)}****${clear.mobile.slice(-4)}`, 'mobile masked');
  t.notOk('monthlyIncome' in agent.body.customer, 'income not in this purpose\'s view');
  t.ok(Array.isArray(agent.body.loans) && agent.body.loans.length > 0, 'and the loans, through the second route');
  const text = JSON.stringify(agent.body);
  for (const value of [clear.idNumber, clear.mobile, clear.bankCard]) t.notOk(text.includes(value), 'no clear identifier reaches the portal');

  const lapsed = await page(env.TRAINING_LAPSED);
  t.equal(lapsed.status, 403, 'an agent with lapsed training is refused through the portal too');
  t.equal(lapsed.body.loanApi?.error?.code, 'CUSTODIAN_ATTESTATION_LAPSED');
  const anonymous = await fetch(`${demo.portalUrl}/portal/customers/42`);
  t.equal(anonymous.status, 401, 'the portal itself wants its user signed in');

  // The access records name the portal and the agent.
  const history = await waitFor(async () => {
    await demo.gateway.audit.shipper.shipOnce();
    const res = await fetch(`${demo.gateway.adminUrl}/audit/subjects/42`, { headers: { authorization: `Bearer ${env.OFFICER}` } });
    const body = (await res.json()) as { accesses: { caller: string; application?: string; purpose: string; decision: string; route: string }[] };
    const viaPortal = body.accesses.filter((a) => a.application === 'cs-portal');
    return viaPortal.length >= 4 ? viaPortal : undefined;
  }, 'the portal\'s accesses in the history');
  t.same(
    history.map((a) => [a.caller, a.purpose, a.decision, a.route]).sort(),
    [
      ['staff-0108', 'customer_service', 'allow', 'customers.detail'],
      ['staff-0108', 'customer_service', 'allow', 'customers.loans'],
      ['staff-0311', 'customer_service', 'deny', 'customers.detail'],
      ['staff-0311', 'customer_service', 'deny', 'customers.loans'],
    ],
    'two pages: the agent\'s two reads allowed, the lapsed agent\'s two refused, each under the agent\'s own id',
  );
});
