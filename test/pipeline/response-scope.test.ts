import { request } from 'undici';
import t, { type Test } from 'tap';

type Tap = Test;
import { journalRecords } from '../helpers/child-gateway.js';
import { startTestGateway, testKey } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';
import { mint, testPurposes } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';
import { createLogger } from '../../src/logging.js';

const officer = await mint(testKey, { sub: 'officer.li', roles: ['information_officer'] });
const record = (id: string) => ({ id, name: '张三丰', mobile: '13812345678', creditScore: 700, note: `customer ${id} ${'备注'.repeat(60)}` });

async function setup(t: Tap) {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  origin.handle((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const ids = (u.searchParams.get('ids') ?? '').split(',').filter(Boolean);
    const from = Number(u.searchParams.get('from') ?? 0);
    const all = ids.length > 0 ? ids : Array.from({ length: Number(u.searchParams.get('count') ?? 0) }, (_, i) => String(from + i));
    const body = u.pathname === '/api/list' ? { items: all.map(record) } : all.map(record);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  const views = { partner_credit_check: { classes: { C2: 'keep' } } };
  const subjects = (path: string) => [{ jsonPath: path }];
  const config = {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: [
      { id: 'list', method: 'GET', path: '/api/list', upstream: 'origin', purposes: ['partner_credit_check', 'customer_service'], subjects: subjects('$.items[*].id'), views },
      { id: 'export', method: 'GET', path: '/api/export', upstream: 'origin', purposes: ['partner_credit_check', 'customer_service'], subjects: subjects('$[*].id'), views },
    ],
    purposes: testPurposes().map((p) => (p.id === 'customer_service' ? { ...p, bulkLimit: { windowSeconds: 3600, refuseAt: 200 } } : p)),
    partners: [
      { id: 'bureau-a', contract: 'HT-1', nda: 'NDA-1', securityReview: { ref: 'SR-1', date: '2026-01-10' }, purposes: ['partner_credit_check'], fields: ['id', 'name', 'creditScore'], validFrom: '2026-01-01', validUntil: '2099-12-31' },
    ],
    classification: { fields: { id: { class: 'public' }, items: { class: 'public' }, name: { class: 'C2', operator: { mask: 'name' } }, mobile: { class: 'C2', operator: { mask: 'mobile' } }, creditScore: { class: 'C1' }, note: { class: 'C1' } } },
    admin: { officerRoles: ['information_officer'], restrictionRefreshMs: 100, consentRefreshMs: 100 },
    // Bodies over 1 KiB stream when they are arrays: /api/export streams, /api/list buffers.
    masking: { streamThresholdBytes: 1024 },
  };
  const gw = await startTestGateway(t, config, process.env.DEBUG_LOG ? { logger: createLogger({ level: 'info' }) } : {});
  const admin = async (path: string, body: unknown) => {
    const res = await request(`${gw.adminUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${officer}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    t.equal(res.statusCode, 201, `${path} accepted`);
    await res.body.dump();
  };
  const call = async (path: string, headers: string[]) => {
    const res = await rawHttps(gw.port, get(path, headers), { ca: gw.ca });
    return { status: res.status, headers: res.headers, body: JSON.parse(res.body) as unknown };
  };
  return { gw, admin, call, origin };
}

t.test('buffered and streamed responses get the same scope: same items, same fields, same counters', async (t) => {
  const { gw, admin, call } = await setup(t);
  const stamp = Date.now();
  const ids = Array.from({ length: 12 }, (_, i) => `s${stamp}-${i}`);
  // Customers 0..5 consented to bureau-a (two of them restricted for the purpose), 6..11 not.
  for (const id of ids.slice(0, 6)) await admin('/admin/consents', { customerId: id, recipient: 'bureau-a', purpose: 'partner_credit_check', fields: ['id', 'name'], expiresAt: '2099-01-01T00:00:00Z', evidence: 'E-1' });
  for (const id of [ids[1], ids[4]]) await admin('/admin/restrictions', { customerId: id, kind: 'objection', purposes: ['partner_credit_check'], ticket: 'T-1' });
  const partner = [`Authorization: Bearer ${await mint(testKey, { sub: 'bureau-a', kind: 'partner', org: 'bureau-a', roles: ['bureau'] })}`, 'X-Purpose: partner_credit_check'];
  const expected = [0, 2, 3, 5].map((i) => ({ id: ids[i], name: '张三丰' }));
  // Consents and restrictions reach the gateway's caches: wait for the list to reflect them.
  const buffered = await waitFor(async () => {
    const res = await call(`/api/list?ids=${ids.join(',')}`, partner);
    return JSON.stringify((res.body as { items: unknown[] }).items) === JSON.stringify(expected) && res;
  }, 'consents and restrictions to reach the gateway');
  const streamed = await call(`/api/export?ids=${ids.join(',')}`, partner);
  t.same((buffered.body as { items: unknown[] }).items, expected, 'buffered: consented, unrestricted customers, consented fields only');
  t.same(streamed.body, expected, 'streamed: the very same items and fields');

  await gw.audit.flush();
  const records = await journalRecords(`${gw.dir}/var/audit`);
  const completion = (res: { headers: Record<string, string> }) =>
    records.find((r) => r.record.type === 'completion' && r.record.requestId === res.headers['x-request-id'])?.record.detail;
  t.same(completion(buffered), completion(streamed), 'the same counters in both completion records');
  t.match(completion(streamed), { restrictedItemsDropped: 2, unconsentedItemsDropped: 6 });
});

t.test('bulk guard before release: never more distinct customers than refuseAt, buffered or streamed', async (t) => {
  const { gw, call } = await setup(t);
  for (const path of ['/api/list', '/api/export']) {
    const sub = `agent-${path.slice(5)}-${Date.now()}`;
    const agent = [`Authorization: Bearer ${await mint(testKey, { sub, roles: ['cs_agent'] })}`, 'X-Purpose: customer_service'];
    const first = await call(`${path}?count=199&from=10000`, agent);
    t.equal(first.status, 200);
    const items = (body: unknown) => (Array.isArray(body) ? body : (body as { items: unknown[] }).items) as { id: string }[];
    t.equal(items(first.body).length, 199, `${path}: 199 customers released`);
    const page = await call(`${path}?count=100&from=20000`, agent);
    t.equal(page.status, 200);
    t.equal(items(page.body).length, 1, `${path}: a page of 100 new customers releases only the one left in the budget`);
    // At the limit a list is refused before the upstream: its customers are not known in advance.
    const more = await call(`${path}?count=3&from=10000`, agent);
    t.equal(more.status, 429, `${path}: at the limit, a further list is refused`);
    if (path === '/api/list') t.equal(page.headers['x-custodian-bulk-withheld'], '99', 'the buffered response says how many were withheld');
    else t.equal(page.headers['x-custodian-bulk-remaining'], '1', `the streamed response says how many new ones could still come (${JSON.stringify(page.headers)})`);
    const stored = await gw.db.query<{ n: string }>('SELECT count(*) AS n FROM bulk_access WHERE caller = $1 AND purpose = $2', [`staff::${sub}`, 'customer_service']);
    t.equal(Number(stored.rows[0]?.n), 200, `${path}: the count in the database is what was released`);
  }
});
