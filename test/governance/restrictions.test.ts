import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import t from 'tap';
import { waitFor } from '../helpers/wait.js';
import { listSegments } from '../../src/audit/segments.js';
import { basicRoutes, staffHeaders, startTestGateway, testKey } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';
import { mint } from '../helpers/tokens.js';

const officerToken = await mint(testKey, { sub: 'officer.li', roles: ['information_officer'] });
const unique = () => String(Math.floor(Math.random() * 1e9));

async function setup(t: Parameters<typeof startTestGateway>[0]) {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  origin.handle((req, res) => {
    const url = req.url ?? '';
    const ids = (new URL(url, 'http://x').searchParams.get('ids') ?? '').split(',').filter(Boolean);
    const body = url.startsWith('/api/customers?') ? { items: ids.map((id) => ({ id })) } : url.startsWith('/api/export') ? ids.map((id) => ({ id })) : { id: url.split('/').pop() };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  const routes = [
    { ...basicRoutes()[0], subjects: [{ param: 'customerId' }] },
    { id: 'customers.list', method: 'GET', path: '/api/customers', upstream: 'origin', purposes: ['credit_assessment'], subjects: [{ jsonPath: '$.items[*].id' }] },
    { id: 'export', method: 'GET', path: '/api/export', upstream: 'origin', purposes: ['credit_assessment'], subjects: [{ jsonPath: '$[*].id' }] },
  ];
  const config = {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes,
    classification: { fields: { id: { class: 'public' }, items: { class: 'public' } } },
    admin: { officerRoles: ['information_officer'], restrictionRefreshMs: 200 },
    masking: { streamThresholdBytes: 1024 },
  };
  return { origin, config };
}

const admin = (url: string, path: string, body?: unknown, token = officerToken) =>
  request(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

t.test('an objection or restriction refuses the customer for its purposes, drops them from lists, and is audited', async (t) => {
  const { origin, config } = await setup(t);
  const gw = await startTestGateway(t, config);
  const auth = await staffHeaders();
  const [a, b, c] = [unique(), unique(), unique()];

  const created = await admin(gw.adminUrl, '/admin/restrictions', { customerId: a, kind: 'restriction', purposes: ['credit_assessment'], ticket: 'T-1' });
  t.equal(created.statusCode, 201);
  const restriction = (await created.body.json()) as { id: string };

  const seen = origin.seen.length;
  const refused = await rawHttps(gw.port, get(`/api/customers/${a}`, auth), { ca: gw.ca });
  t.equal(refused.status, 403);
  t.equal(JSON.parse(refused.body).error.code, 'CUSTODIAN_SUBJECT_RESTRICTED');
  t.equal(origin.seen.length, seen, 'the upstream is not asked');
  const agent = [`Authorization: Bearer ${await mint(testKey, { roles: ['cs_agent'] })}`, 'X-Purpose: customer_service'];
  t.equal((await rawHttps(gw.port, get(`/api/customers/${a}`, agent), { ca: gw.ca })).status, 200, 'other purposes are not restricted');
  t.equal((await rawHttps(gw.port, get(`/api/customers/${b}`, auth), { ca: gw.ca })).status, 200, 'other customers are not restricted');

  const objection = await admin(gw.adminUrl, '/admin/restrictions', { customerId: b, kind: 'objection', ticket: 'T-2' });
  const o = (await objection.body.json()) as { id: string; dueAt: string; status: string };
  t.equal(o.status, 'open');
  t.ok(Math.abs(Date.parse(o.dueAt) - Date.now() - 20 * 86400_000) < 60_000, 'an objection is due in 20 days');

  const list = await rawHttps(gw.port, get(`/api/customers?ids=${a},${b},${c}`, auth), { ca: gw.ca });
  t.same(JSON.parse(list.body).items.map((i: { id: string }) => i.id), [c], 'restricted customers are dropped from the list');
  const exported = await rawHttps(gw.port, get(`/api/export?ids=${a},${c},${b}`, auth), { ca: gw.ca });
  t.same(JSON.parse(exported.body).map((i: { id: string }) => i.id), [c], 'and from streamed exports');

  const answered = await admin(gw.adminUrl, `/admin/restrictions/${o.id}/answer`, { reply: '书面答复已寄出' });
  t.match(await answered.body.json(), { status: 'answered', answeredBy: 'officer.li', reply: '书面答复已寄出' });
  t.equal((await rawHttps(gw.port, get(`/api/customers/${b}`, auth), { ca: gw.ca })).status, 403, 'an answered objection still restricts until lifted');
  await admin(gw.adminUrl, `/admin/restrictions/${restriction.id}/lift`, {});
  t.equal((await rawHttps(gw.port, get(`/api/customers/${a}`, auth), { ca: gw.ca })).status, 200, 'lifted');

  const readRecords = async () =>
    (await listSegments(join(gw.dir, 'var', 'audit'))).flatMap((s) => readFileSync(s.file, 'utf8').split('\n').filter(Boolean)).map((l) => JSON.parse(l).record);
  // Completion records follow the response: wait for the list's.
  const records = await waitFor(async () => {
    const all = await readRecords();
    return all.some((r) => r.type === 'completion' && r.detail?.restrictedItemsDropped === 2) && all;
  }, 'the completion record of the list');
  const actions = records.filter((r) => r.type === 'admin').map((r) => r.detail.action);
  t.same(actions, ['register restriction', 'register objection', 'answer objection', 'lift restriction'], 'every admin action is recorded');
  t.ok(records.some((r) => r.type === 'completion' && r.detail?.restrictedItemsDropped === 2), 'the list response records how many items were dropped');
  t.ok(records.some((r) => r.decision === 'deny' && r.reason === 'CUSTODIAN_SUBJECT_RESTRICTED' && r.subjects?.ids.includes(a)));
});

t.test('the admin API refuses callers without a token or an officer role', async (t) => {
  const { config } = await setup(t);
  const gw = await startTestGateway(t, config);
  const none = await request(`${gw.adminUrl}/admin/restrictions`);
  t.equal(none.statusCode, 401);
  t.equal(((await none.body.json()) as { error: { code: string } }).error.code, 'CUSTODIAN_AUTH_MISSING');
  const staff = await admin(gw.adminUrl, '/admin/restrictions', { customerId: '1', kind: 'restriction', ticket: 'x' }, await mint(testKey));
  t.equal(staff.statusCode, 403);
  t.equal(((await staff.body.json()) as { error: { code: string } }).error.code, 'CUSTODIAN_ADMIN_FORBIDDEN');
  const history = await request(`${gw.adminUrl}/audit/subjects/1`);
  t.equal(history.statusCode, 401, 'access history needs an officer too');
  const bad = await admin(gw.adminUrl, '/admin/restrictions', { customerId: '1', kind: 'restriction', ticket: 'x', purposes: ['marketing'] });
  t.equal(bad.statusCode, 400, 'purposes must come from the catalogue');
});

t.test('a restriction made on one replica reaches another sharing the database; overdue objections show in metrics', async (t) => {
  const { config } = await setup(t);
  const one = await startTestGateway(t, config);
  const two = await startTestGateway(t, config);
  const auth = await staffHeaders();
  const id = unique();
  t.equal((await rawHttps(two.port, get(`/api/customers/${id}`, auth), { ca: two.ca })).status, 200);
  await admin(one.adminUrl, '/admin/restrictions', { customerId: id, kind: 'objection', ticket: 'T-9', dueInDays: -1 });
  const started = Date.now();
  let status = 200;
  while (status === 200 && Date.now() - started < 5000) {
    await new Promise((r) => setTimeout(r, 50));
    status = (await rawHttps(two.port, get(`/api/customers/${id}`, auth), { ca: two.ca })).status;
  }
  t.equal(status, 403, `refused on the other replica after ${Date.now() - started} ms`);
  t.ok(Date.now() - started < 5000, 'within 5 seconds');
  const metrics = await (await request(`${two.adminUrl}/metrics`)).body.text();
  t.match(metrics, /custodian_objections_overdue [1-9]/);
});

t.test('custodian admin: the same operations from the command line', async (t) => {
  const { config } = await setup(t);
  const gw = await startTestGateway(t, config);
  const { runAdmin } = await import('../../src/cli/admin.js');
  const lines: string[] = [];
  const id = unique();
  const code = await runAdmin(
    { action: 'restrict', target: undefined, adminUrl: gw.adminUrl, token: officerToken, options: { customer: id, kind: 'objection', ticket: 'T-CLI' } },
    (l) => lines.push(l),
  );
  t.equal(code, 0);
  const created = JSON.parse(lines.join('\n'));
  t.match(created, { customerId: id, kind: 'objection', ticket: 'T-CLI', status: 'open' });
  const listed: string[] = [];
  t.equal(await runAdmin({ action: 'list', target: 'restrictions', adminUrl: gw.adminUrl, token: officerToken, options: { customer: id } }, (l) => listed.push(l)), 0);
  t.match(JSON.parse(listed.join('\n')), { restrictions: [{ id: created.id }] });
  const refused: string[] = [];
  t.equal(await runAdmin({ action: 'lift', target: undefined, adminUrl: gw.adminUrl, token: await mint(testKey), options: { id: created.id } }, (l) => refused.push(l)), 1, 'a staff token is refused');
  t.notMatch(refused.join('\n'), /eyJ/, 'the token is never printed');
});

t.test('regression: a customer keyed by an identifier-shaped id is restricted (enforcement compares real ids; records mask them)', async (t) => {
  const { config } = await setup(t);
  const gw = await startTestGateway(t, config);
  const { residentIdCheckChar } = await import('../../src/mask/cn-checksums.js');
  const key = `11010119900307123${residentIdCheckChar('11010119900307123')}`;
  await admin(gw.adminUrl, '/admin/restrictions', { customerId: key, kind: 'restriction', ticket: 'T-ID' });
  const auth = await staffHeaders();
  const refused = await rawHttps(gw.port, get(`/api/customers/${key}`, auth), { ca: gw.ca });
  t.equal(JSON.parse(refused.body).error.code, 'CUSTODIAN_SUBJECT_RESTRICTED', 'detail refused');
  const exported = await rawHttps(gw.port, get(`/api/export?ids=${key},plain-1`, auth), { ca: gw.ca });
  t.same(JSON.parse(exported.body).map((i: { id: string }) => i.id), ['plain-1'], 'dropped from a streamed export');
  const journal = await waitFor(async () => {
    const text = (await listSegments(join(gw.dir, 'var', 'audit'))).map((s) => readFileSync(s.file, 'utf8')).join('\n');
    return text.includes('CUSTODIAN_SUBJECT_RESTRICTED') && text.includes('"type":"completion"') && text;
  }, 'the refusal and completion records');
  const denied = journal.split('\n').filter(Boolean).map((l) => JSON.parse(l).record).find((r) => r.reason === 'CUSTODIAN_SUBJECT_RESTRICTED');
  t.same(denied?.subjects?.ids, [`${key.slice(0, 4)}**********${key.slice(-4)}`], 'the record names the customer masked');
  t.notMatch(journal, key, 'never in clear in any record, admin actions included');
});
