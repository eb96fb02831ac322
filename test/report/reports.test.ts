import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { Agent, request } from 'undici';
import { customer } from '../../src/demo/dataset.js';
import type { RunningDemo } from '../../src/demo/run.js';
import { emptyHits, maskDetected } from '../../src/mask/detectors.js';
import { inspectionReport } from '../../src/report/inspection.js';
import { renderReport } from '../../src/report/render.js';
import { subjectReport } from '../../src/report/subject.js';
import { launchChromium } from '../helpers/chromium.js';
import { tempDir } from '../helpers/gateway.js';
import { demoEnv } from '../helpers/demo-env.js';
import { requireTool } from '../helpers/tools.js';
import { isolatedDemo } from '../helpers/isolated-demo.js';

/**
 * Reports for the people the policy names, over the demo after its README traffic: the
 * supervision group's inspection report (rendered in headless Chromium: every chart drawn, no
 * clear identifier on the page) in every format, and a customer's "who saw my data" document
 * listing exactly that customer's accesses, a partner provision included.
 */
const exec = promisify(execFile);

async function demoWithTraffic(t: Test): Promise<{ demo: RunningDemo; varDir: string }> {
  const varDir = tempDir(t, 'custodian-report-');
  const demo = await isolatedDemo(t, varDir, 'custodian_report');
  // The README's demo traffic: every printed curl line (allowed, refused, the partner's provision).
  const lines = demo.instructions.split('\n').map((l) => l.trim());
  const source = lines.find((l) => l.startsWith('source ')) as string;
  for (const [i, line] of lines.entries()) {
    if (!line.startsWith('# expect ') || line.startsWith('# expect psql')) continue;
    await exec('bash', ['-c', `${source}\n${lines[i + 1]} -s -o /dev/null`]);
  }
  // And the governance story: an objection answered, a destruction approved.
  const env = demoEnv(varDir);
  const admin = async (token: string, path: string, body: unknown) =>
    (await (await request(`${demo.gateway.adminUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })).body.json()) as { id: string };
  const objection = await admin(env.OFFICER as string, '/admin/restrictions', { customerId: '42', kind: 'objection', ticket: 'OBJ-2026-9' });
  await admin(env.OFFICER as string, `/admin/restrictions/${objection.id}/answer`, { reply: '已核实并更正 verified and corrected' });
  await admin(env.OFFICER as string, `/admin/restrictions/${objection.id}/lift`, {});
  const dispatcher = new Agent({ connect: { ca: readFileSync(join(varDir, 'demo-ca.pem'), 'utf8') } });
  t.teardown(() => dispatcher.close());
  const path = '/api/customers/43/documents/contract-1';
  const approval = await admin(env.APPROVER as string, '/admin/approvals', { method: 'DELETE', path, requester: 'staff-0108', reason: 'customer request' });
  const deleted = await request(`${demo.gateway.dataUrl.replace('127.0.0.1', 'localhost')}${path}`, {
    dispatcher,
    method: 'DELETE',
    headers: { authorization: `Bearer ${env.CS_AGENT}`, 'x-purpose': 'customer_service', 'x-approval': approval.id },
  });
  await deleted.body.dump();
  t.equal(deleted.statusCode, 200, 'the approved destruction ran');
  await demo.gateway.audit.flush();
  await demo.gateway.audit.checkpoint();
  await demo.gateway.audit.shipper.shipOnce();
  return { demo, varDir };
}

/**
 * The text the detectors scan: request ids (random UUIDs, not personal data) taken out first —
 * their digit groups, joined by dashes, can form a Luhn-valid card-length run by chance.
 */
const scannable = (text: string) => text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<request id>');

/** Values of the demo customers the README traffic touched, in clear: none may appear in a report. */
const CLEAR = [42, 43, 77].flatMap((id) => {
  const c = customer(id);
  return [c.name, c.idNumber, c.mobile, c.bankCard].filter(Boolean) as string[];
});

t.test('the inspection report: every section with its rule, every chart drawn in Chromium, no clear identifier', async (t) => {
  const { demo, varDir } = await demoWithTraffic(t);
  const config = demo.gateway.policy.current.config;
  const period = { from: new Date(Date.now() - 3600_000), to: new Date(Date.now() + 60_000), utcOffset: '+08:00' };
  const report = await inspectionReport(demo.gateway.db, config, period);
  const byId = new Map(report.sections.map((s) => [s.id, s]));
  t.same([...byId.keys()], ['accesses', 'roles', 'refusals', 'clear-c2', 'top-callers', 'applications', 'off-hours', 'bulk', 'partners', 'objections', 'destructions', 'reviews', 'attestations', 'chain']);
  for (const s of report.sections) t.ok(s.rule.zh && s.rule.en, `${s.id}: states its rule in Chinese and English`);

  // What the README traffic did, found again.
  const refusals = byId.get('refusals')?.table;
  const reasons = refusals?.rows.map((r) => r[0]) ?? [];
  for (const code of ['CUSTODIAN_PURPOSE_NOT_ALLOWED', 'CUSTODIAN_ATTESTATION_LAPSED', 'CUSTODIAN_PATH_INVALID']) t.ok(reasons.includes(code), `refusal ${code} counted`);
  t.ok(refusals?.records?.every((r) => r.ids.length > 0 && r.ids.every((id) => /^[0-9a-f-]{36}$/.test(id))), 'each refusal row lists the request ids behind it');
  t.ok(byId.get('clear-c2')?.table.rows.some((r) => r[0] === 'staff-0017' && r[1] === 'credit_assessment'), 'the credit officer received C2 in clear');
  t.match(byId.get('partners')?.table.rows, [['bureau-a', 'credit_reporting', Number]], 'the partner provision');
  t.match(byId.get('objections')?.table.rows, [[String, String, String, '已答复 answered', Number]]);
  t.match(byId.get('destructions')?.table.rows, [[String, 'staff-0108', 'supervisor.chen', 'DELETE /api/customers/43/documents/contract-1', String]]);
  // The lapsed agent tried directly (credit assessment) and through the portal (two reads for one page).
  t.same(byId.get('attestations')?.table.rows, [['staff-0311', 'customer_service', 2], ['staff-0311', 'credit_assessment', 1]], 'the lapsed-training attempts');
  // The portal's page of customer 42 for its agent, and the lapsed agent refused through it.
  const viaApplications = byId.get('applications')?.table.rows;
  t.equal(viaApplications?.length, 2, 'one application, one purpose, two outcomes');
  t.match(viaApplications, [['cs-portal', 'customer_service', 'allowed', Number], ['cs-portal', 'customer_service', 'refused', 2]], 'the portal\'s reads and refusals');
  t.ok(Number(viaApplications?.[0]?.[3]) >= 2, 'at least the page\'s two reads');
  t.match(byId.get('chain'), { status: 'ok', table: { rows: [[String, Number, Number, Number, '通过 OK']] } });

  const out = join(varDir, 'inspection.html');
  writeFileSync(out, renderReport(report, 'html'));
  for (const format of ['md', 'csv', 'json'] as const) {
    const text = renderReport(report, format);
    t.match(text, /CUSTODIAN_ATTESTATION_LAPSED/, `${format}: the refusals are there`);
    t.match(text, /bureau-a/, `${format}: the partner provision is there`);
    for (const value of CLEAR) t.notOk(text.includes(value), `${format}: no clear ${value.length}-character identifier`);
    t.equal(maskDetected(scannable(text), emptyHits()), scannable(text), `${format}: the detectors find no identifier in it`);
  }
  const csvLines = renderReport(report, 'csv').split('\n');
  t.ok(csvLines.some((l) => /^refusals,attention,CUSTODIAN_ATTESTATION_LAPSED,3,/.test(l)), 'csv: a row per finding, by section');
  t.equal(JSON.parse(renderReport(report, 'json')).sections.length, 14, 'json: the same model');

  if (!requireTool(t, 'chromium')) return;
  const browser = await launchChromium('chromium');
  t.teardown(() => browser.close());
  const page = await browser.open(pathToFileURL(out).href);
  const charts = await page.evaluate<{ section: string; drawn: number; points: number }[]>(`[...document.querySelectorAll('figure.chart')].map((f) => {
    const points = [...f.querySelectorAll('svg .point')];
    return { section: f.dataset.chart, points: points.length, drawn: points.filter((p) => { const b = p.getBBox(); return b.width > 0 && b.height > 0 && Number(p.dataset.value) > 0; }).length };
  })`);
  t.ok(charts.length >= 5, `${charts.length} charts`);
  for (const c of charts) t.ok(c.points > 0 && c.drawn === c.points, `${c.section}: ${c.drawn} of ${c.points} data points drawn`);
  const text = await page.evaluate<string>('document.body.innerText');
  t.match(text, /客户信息保护检查报告/);
  for (const value of CLEAR) t.notOk(text.includes(value), 'no clear identifier on the rendered page');
  t.equal(maskDetected(scannable(text), emptyHits()), scannable(text), 'the detectors find no identifier on the rendered page');
  const png = await page.screenshot();
  t.ok(png.length > 10_000 && png.subarray(1, 4).toString() === 'PNG', 'a screenshot');
  mkdirSync(join('.tap', 'screenshots'), { recursive: true });
  writeFileSync(join('.tap', 'screenshots', 'inspection-report.png'), png);
  await page.close();
});

t.test('the customer report lists exactly that customer\'s accesses, the partner provision and the consent it relied on', async (t) => {
  const { demo } = await demoWithTraffic(t);
  const config = demo.gateway.policy.current.config;
  const period = { from: new Date(Date.now() - 3600_000), to: new Date(Date.now() + 60_000) };
  const report = await subjectReport(demo.gateway.db, config, '42', period);
  const byId = new Map(report.sections.map((s) => [s.id, s]));
  const accesses = byId.get('accesses')?.table.rows ?? [];
  t.ok(accesses.length >= 2, `${accesses.length} accesses by the company`);
  const text = renderReport(report, 'md');
  t.notMatch(text, /staff-\d{4}|supervisor\.chen|officer\.zhang/, 'by role and organisation, never a staff member\'s id');
  t.match(text, /本公司 credit_officer/);
  t.match(text, /本公司 cs_agent（经 via 客服工作台 \(customer-service portal\)）/, 'a read through the portal names the application');
  t.match(byId.get('provided')?.table.rows, [[String, /某征信服务有限公司/, /征信报送/, /明文 clear: .*idNumber/, /demo: signed consent form CF-42/]], 'the partner provision and the consent relied on');
  t.match(byId.get('consents')?.table.rows, [[/某征信服务有限公司/, /征信报送/, /idNumber/, String, '有效 live']]);
  t.match(byId.get('objections')?.table.rows, [[String, '异议 objection', '已解除 lifted', '已核实并更正 verified and corrected', String]]);
  for (const value of CLEAR) t.notOk(text.includes(value), 'no clear identifier');

  // Exactly this customer's: 43's accesses (the destruction, the partner's refusal) are not here.
  const other = await subjectReport(demo.gateway.db, config, '43', period);
  const otherRows = other.sections.find((s) => s.id === 'accesses')?.table.rows ?? [];
  t.ok(otherRows.length >= 1, 'customer 43 has their own accesses');
  const history42 = await demo.gateway.db.query<{ n: number }>(
    "SELECT count(DISTINCT request_id)::int AS n FROM audit_events WHERE type = 'decision' AND decision <> 'deny' AND '42' = ANY(subjects)",
  );
  t.equal(accesses.length + (byId.get('provided')?.table.rows.length ?? 0), history42.rows[0]?.n, 'as many lines as requests for 42 were allowed, no more');
  const cli = await exec(process.execPath, ['--import', 'tsx', 'src/index.ts', 'report', 'subject', '42', '--format', 'json', '-c', 'config/demo.yaml', '--var-dir', tempDir(t)], { encoding: 'utf8' });
  t.equal(JSON.parse(cli.stdout).kind, 'subject', 'the CLI writes the same report');
});

t.test('the auditor reads every list, history and report on the admin plane, and is refused every change', async (t) => {
  const varDir = tempDir(t, 'custodian-report-');
  const demo = await isolatedDemo(t, varDir, 'custodian_report');
  const env = demoEnv(varDir);
  const call = async (token: string, method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await request(`${demo.gateway.adminUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, type: String(res.headers['content-type']), text };
  };
  const auditor = env.AUDITOR as string;
  const reads = ['/admin/restrictions', '/admin/consents', '/admin/approvals', '/admin/destructions', '/admin/partners', '/admin/policy/versions', '/audit/subjects/42', '/reports/inspection', '/reports/subjects/42', '/reports/inspection?format=csv'];
  for (const path of reads) {
    const res = await call(auditor, 'GET', path);
    t.equal(res.status, 200, `auditor reads ${path}`);
    t.equal((await call(env.CS_AGENT as string, 'GET', path)).status, 403, `an agent may not read ${path}`);
  }
  const html = await call(auditor, 'GET', '/reports/inspection');
  t.match(html.type, /text\/html/);
  t.match(html.text, /客户信息保护检查报告/);
  t.match((await call(auditor, 'GET', '/admin/consents?customerId=42')).text, /bureau-a/, 'the demo consent, filtered by customer');

  const count = async () => {
    const n = async (table: string) => Number((await demo.gateway.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);
    return { restrictions: await n('restrictions'), consents: await n('consents'), approvals: await n('approvals'), versions: await n('policy_versions') };
  };
  const before = await count();
  const consentId = JSON.parse((await call(auditor, 'GET', '/admin/consents')).text).consents[0].id as string;
  const changes: [string, unknown][] = [
    ['/admin/restrictions', { customerId: '42', kind: 'objection', ticket: 'T-1' }],
    ['/admin/restrictions/any/answer', { reply: 'x' }],
    ['/admin/restrictions/any/lift', {}],
    ['/admin/approvals', { method: 'DELETE', path: '/api/customers/42/documents/d', requester: 'staff-0007' }],
    ['/admin/consents', { customerId: '43', recipient: 'bureau-a', purpose: 'credit_reporting', fields: ['id'], expiresAt: '2099-01-01', evidence: 'x' }],
    [`/admin/consents/${consentId}/withdraw`, {}],
    ['/admin/policy', { policy: 'mode: demo\n' }],
  ];
  for (const [path, body] of changes) {
    const res = await call(auditor, 'POST', path, body);
    t.equal(res.status, 403, `auditor may not POST ${path}`);
    t.equal(JSON.parse(res.text).error.code, 'CUSTODIAN_ADMIN_FORBIDDEN');
  }
  t.same(await count(), before, 'nothing changed');

  // The CLI through the running gateway's admin plane (the demo holds its embedded store open).
  const cli = (args: string[]) => exec(process.execPath, ['--import', 'tsx', 'src/index.ts', 'report', ...args, '--admin-url', demo.gateway.adminUrl, '-c', 'config/demo.yaml'], { encoding: 'utf8' });
  t.equal(JSON.parse((await cli(['inspection', '--format', 'json', '--token', auditor])).stdout).kind, 'inspection', 'custodian report inspection --admin-url');
  t.match((await cli(['subject', '42', '--format', 'md', '--token', env.OFFICER as string])).stdout, /个人信息访问情况说明/, 'custodian report subject 42 --admin-url');
  await t.rejects(cli(['inspection', '--token', env.CS_AGENT as string]), /answered 403/, 'an agent\'s token is refused');
  t.match((await call(auditor, 'GET', '/admin/consents')).text, /"withdrawnAt":null/, 'the consent is still live');
});
