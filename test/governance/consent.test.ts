import { request } from 'undici';
import t from 'tap';
import { startTestGateway, testKey } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';
import { mint, testPurposes } from '../helpers/tokens.js';

const officerToken = await mint(testKey, { sub: 'officer.li', roles: ['information_officer'] });
const partnerToken = (org: string) => mint(testKey, { sub: org, kind: 'partner', org, roles: ['bureau'] });
const unique = () => String(100000 + Math.floor(Math.random() * 1e9));

t.test('partners get only consented customers and only consented, contracted fields; withdrawal takes effect on every replica', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  origin.handle((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const record = (id: string) => ({ id, name: '张三', idNumber: '110101199003071233', mobile: '13812345678', creditScore: 700, income: 9000 });
    const ids = (u.searchParams.get('ids') ?? '').split(',').filter(Boolean);
    const body = u.pathname === '/api/customers' ? { items: ids.map(record) } : record(u.pathname.split('/').pop() as string);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  const partners = [
    { id: 'bureau-a', contract: 'HT-1', nda: 'NDA-1', securityReview: { ref: 'SR-1', date: '2026-01-10' }, purposes: ['partner_credit_check'], fields: ['id', 'name', 'idNumber', 'creditScore'], validFrom: '2026-01-01', validUntil: '2099-12-31' },
    { id: 'bureau-b', contract: 'HT-2', nda: 'NDA-2', securityReview: { ref: 'SR-2', date: '2026-01-10' }, purposes: ['partner_credit_check'], fields: ['id', 'name'], validFrom: '2026-01-01', validUntil: '2099-12-31' },
    { id: 'bureau-old', contract: 'HT-0', nda: 'NDA-0', securityReview: { ref: 'SR-0', date: '2020-01-10' }, purposes: ['partner_credit_check'], fields: ['id'], validFrom: '2020-01-01', validUntil: '2021-12-31' },
  ];
  const config = {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: [
      { id: 'detail', method: 'GET', path: '/api/customers/:customerId', upstream: 'origin', purposes: ['partner_credit_check', 'credit_assessment'], subjects: [{ param: 'customerId' }], views: { partner_credit_check: { classes: { C2: 'keep' } } } },
      { id: 'list', method: 'GET', path: '/api/customers', upstream: 'origin', purposes: ['partner_credit_check'], subjects: [{ jsonPath: '$.items[*].id' }], views: { partner_credit_check: { classes: { C2: 'keep' } } } },
      { id: 'nosubject', method: 'GET', path: '/api/stats', upstream: 'origin', purposes: ['partner_credit_check'] },
    ],
    purposes: testPurposes(),
    partners,
    classification: { fields: { id: { class: 'public' }, items: { class: 'public' }, name: { class: 'C2', operator: { mask: 'name' } }, idNumber: { class: 'C2', operator: { mask: 'resident_id' } }, mobile: { class: 'C2', operator: { mask: 'mobile' } }, creditScore: { class: 'C1' }, income: { class: 'C1' } } },
    admin: { consentRefreshMs: 500 },
  };
  const one = await startTestGateway(t, config);
  const two = await startTestGateway(t, config);
  const headers = [`Authorization: Bearer ${await partnerToken('bureau-a')}`, 'X-Purpose: partner_credit_check'];
  const [consented, other, third] = [unique(), unique(), unique()];
  const admin = async (path: string, body?: unknown) => {
    const res = await request(`${one.adminUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${officerToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
    return { status: res.statusCode, body: (await res.body.json()) as { id: string } };
  };
  const call = async (gw: typeof one, path: string, h = headers) => {
    const res = await rawHttps(gw.port, get(path, h), { ca: gw.ca });
    return { status: res.status, body: JSON.parse(res.body) };
  };

  t.equal((await call(one, `/api/customers/${consented}`)).body.error.code, 'CUSTODIAN_CONSENT_REQUIRED', 'no consent yet');
  const seen = origin.seen.length;
  const consent = await admin('/admin/consents', { customerId: consented, recipient: 'bureau-a', purpose: 'partner_credit_check', fields: ['id', 'name', 'mobile', 'creditScore'], expiresAt: '2099-01-01T00:00:00Z', evidence: 'form-2026-117.pdf' });
  t.equal(consent.status, 201);
  await admin('/admin/consents', { customerId: third, recipient: 'bureau-a', purpose: 'credit_assessment', fields: ['id'], expiresAt: '2099-01-01T00:00:00Z', evidence: 'x' }).then((r) => t.equal(r.status, 400, 'consent only for a purpose in the contract'));

  const detail = await call(one, `/api/customers/${consented}`);
  t.equal(detail.status, 200);
  t.same(detail.body, { id: consented, name: '张三', creditScore: 700 }, 'consented ∩ contracted fields only: mobile (not contracted), idNumber (not consented), income dropped');
  t.equal((await call(one, `/api/customers/${other}`)).body.error.code, 'CUSTODIAN_CONSENT_REQUIRED', 'another customer: no consent');
  await admin('/admin/consents', { customerId: other, recipient: 'bureau-b', purpose: 'partner_credit_check', fields: ['id', 'name'], expiresAt: '2099-01-01T00:00:00Z', evidence: 'form-b' });
  t.equal((await call(one, `/api/customers/${other}`)).body.error.code, 'CUSTODIAN_CONSENT_REQUIRED', "a consent to another partner does not cover this one");
  const list = await call(one, `/api/customers?ids=${other},${consented},${third}`);
  t.same(list.body.items, [{ id: consented, name: '张三', creditScore: 700 }], 'lists keep only consented customers');
  t.equal((await call(one, '/api/stats')).body.error.code, 'CUSTODIAN_CONSENT_REQUIRED', 'a route that does not say whose data it is is closed to partners');

  const otherPartner = [`Authorization: Bearer ${await partnerToken('bureau-old')}`, 'X-Purpose: partner_credit_check'];
  t.equal((await call(one, `/api/customers/${consented}`, otherPartner)).body.error.code, 'CUSTODIAN_PARTNER_CONTRACT', 'expired contract');
  const unregistered = [`Authorization: Bearer ${await partnerToken('bureau-x')}`, 'X-Purpose: partner_credit_check'];
  t.equal((await call(one, `/api/customers/${consented}`, unregistered)).body.error.code, 'CUSTODIAN_PARTNER_CONTRACT', 'not in the registry');
  const bureauB = [`Authorization: Bearer ${await partnerToken('bureau-b')}`, 'X-Purpose: partner_credit_check'];
  t.same((await call(one, `/api/customers/${other}`, bureauB)).body, { id: other, name: '张三' }, 'the partner it was given to gets its scope');
  t.equal(origin.seen.length - seen, 3, 'only the three allowed requests reached the upstream');
  let seenOnTwo = 0;
  for (let i = 0; i < 60 && seenOnTwo !== 200; i++) {
    seenOnTwo = (await call(two, `/api/customers/${consented}`)).status;
    if (seenOnTwo !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(seenOnTwo, 200, 'the other replica sees the consent within its refresh interval');

  await admin(`/admin/consents/${consent.body.id}/withdraw`);
  const withdrawnAt = Date.now();
  let status = 200;
  while (status === 200 && Date.now() - withdrawnAt < 6000) {
    status = (await call(two, `/api/customers/${consented}`)).status;
    if (status === 200) await new Promise((r) => setTimeout(r, 50));
  }
  const took = Date.now() - withdrawnAt;
  t.equal(status, 403, `withdrawal reached the other replica after ${took} ms`);
  t.ok(took < 5000, 'within 5 seconds');
});
