import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import t from 'tap';
import { parseConfig } from '../../src/config/load.js';
import { recordConsent } from '../../src/governance/consents.js';
import { lintPolicy } from '../../src/policy/lint.js';
import { runPolicyCases } from '../../src/policy/policy-tests.js';
import { startTestGateway, testKey } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';
import { mint, testPurposes } from '../helpers/tokens.js';

/**
 * Rules the policy records are rules the gateway enforces: a purpose whose lawful basis is
 * consent needs each customer's live consent, for the company's own staff as for partners; a
 * partner past its security review or NDA is refused, and `check` warns before that day.
 */

t.test('a consent-based purpose: customers without a live consent are refused, and only consented fields are released', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  origin.handle((req, res) => {
    const id = Number(/\/api\/customers\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, name: '欧阳娜娜', mobile: '13812345678', creditScore: 700 }));
  });
  const marketing = { id: 'marketing_offers', description: '营销', lawfulBasis: 'consent', roles: ['marketer'], callerKinds: ['staff'], approvedBy: 'officer.li', reviewUntil: '2099-12-31' };
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    purposes: [...testPurposes(), marketing],
    routes: [
      { id: 'customers.detail', method: 'GET', path: '/api/customers/:customerId', upstream: 'origin', purposes: ['credit_assessment', 'marketing_offers'], subjects: [{ param: 'customerId' }] },
      { id: 'everyone', method: 'GET', path: '/api/all-customers', upstream: 'origin', purposes: ['marketing_offers'] },
    ],
    classification: { fields: { id: { class: 'public' }, name: { class: 'C2', operator: { mask: 'name' } }, mobile: { class: 'C2', operator: { mask: 'mobile' } }, creditScore: { class: 'C1' } } },
  });
  await recordConsent(gw.db, {
    customerId: '7',
    recipient: 'self',
    purpose: 'marketing_offers',
    fields: ['id', 'name'],
    expiresAt: new Date(Date.now() + 86400_000).toISOString(),
    evidence: 'test: consent form',
    recordedBy: 'officer.li',
  });
  // A consent to a partner is not a consent to the company's own use.
  await recordConsent(gw.db, { customerId: '8', recipient: 'bureau-x', purpose: 'marketing_offers', fields: ['id', 'name'], expiresAt: new Date(Date.now() + 86400_000).toISOString(), evidence: 'e', recordedBy: 'officer.li' });
  await gw.governance.consents.refresh();
  const marketer = [`Authorization: Bearer ${await mint(testKey, { sub: 'm-1', roles: ['marketer'] })}`, 'X-Purpose: marketing_offers'];

  const consented = await rawHttps(gw.port, get('/api/customers/7', marketer), { ca: gw.ca });
  t.equal(consented.status, 200, consented.body);
  t.same(JSON.parse(consented.body), { id: 7, name: '欧阳**' }, 'only the consented fields, masked by the view');

  const before = origin.seen.length;
  for (const id of ['8', '9']) {
    const refused = await rawHttps(gw.port, get(`/api/customers/${id}`, marketer), { ca: gw.ca });
    t.equal(refused.status, 403, `customer ${id}: refused`);
    t.equal(JSON.parse(refused.body).error.code, 'CUSTODIAN_CONSENT_REQUIRED');
  }
  const unnamed = await rawHttps(gw.port, get('/api/all-customers', marketer), { ca: gw.ca });
  t.equal(JSON.parse(unnamed.body).error.code, 'CUSTODIAN_CONSENT_REQUIRED', 'a route that names no customer is closed to a consent-based purpose');
  t.equal(origin.seen.length, before, 'the upstream was never called for a refused request');

  const officer = [`Authorization: Bearer ${await mint(testKey, { sub: 'c-1' })}`, 'X-Purpose: credit_assessment'];
  t.equal((await rawHttps(gw.port, get('/api/customers/8', officer), { ca: gw.ca })).status, 200, 'a contract-based purpose needs no consent');
});

const source = resolve('config/demo.yaml');
const demo = readFileSync(source, 'utf8');
/** bureau-a asking for customer 42 on 2026-06-01, expected to be refused with `reason`. */
const partnerCase = (reason: string) => ({
  now: '2026-06-01T00:00:00Z',
  tests: [
    {
      name: 'bureau-a reads customer 42',
      request: { method: 'GET', path: '/api/customers/42' },
      claims: { sub: 'bureau-a-client', kind: 'partner', org: 'bureau-a', roles: ['credit_bureau'], attestations: { nda: true } },
      purpose: 'credit_reporting',
      expect: { decision: 'deny' as const, reason },
    },
  ],
});

t.test('a partner past its security review or its NDA is refused with CUSTODIAN_PARTNER_CONTRACT', async (t) => {
  const cases: [string, string, string][] = [
    ['review lapsed', 'securityReview: { ref: SR-2026-03, date: "2026-03-01", expires: "2027-12-31" }', 'securityReview: { ref: SR-2026-03, date: "2026-03-01", expires: "2026-05-31" }'],
    ['review a year old (no expiry written)', 'securityReview: { ref: SR-2026-03, date: "2026-03-01", expires: "2027-12-31" }', 'securityReview: { ref: SR-2025-03, date: "2025-05-30" }'],
    ['NDA expired', 'nda: { ref: NDA-2026-017, expires: "2027-12-31" }', 'nda: { ref: NDA-2026-017, expires: "2026-05-31" }'],
  ];
  for (const [what, from, to] of cases) {
    t.ok(demo.includes(from), what);
    const lapsed = parseConfig(source, demo.replace(from, to), { env: {} });
    const [result] = await runPolicyCases(lapsed, partnerCase('CUSTODIAN_PARTNER_CONTRACT'));
    t.same(result?.problems, [], `${what}: refused as a contract failure`);
  }
  // In force: the contract holds and the customer's consent is what is checked next.
  const [inForce] = await runPolicyCases(parseConfig(source, demo, { env: {} }), partnerCase('CUSTODIAN_CONSENT_REQUIRED'));
  t.same(inForce?.problems, [], 'in force: on to the consent check (none on file offline)');
});

t.test('check warns 30 days before a partner\'s review, NDA or contract lapses, and says when one has', async (t) => {
  const config = parseConfig(source, demo, { env: {} });
  const day = (iso: string) => Date.parse(iso) / 1000;
  t.same(lintPolicy(config, day('2027-11-01T00:00:00Z')), [], 'two months ahead: quiet');
  const soon = lintPolicy(config, day('2027-12-10T00:00:00Z')).map((w) => w.message);
  t.ok(soon.some((m) => /partner "bureau-a": security review lapses on 2027-12-31, within 30 days/.test(m)), soon.join(' | '));
  t.ok(soon.some((m) => /partner "bureau-a": NDA lapses on 2027-12-31, within 30 days/.test(m)));
  t.ok(soon.some((m) => /partner "bureau-a": contract lapses on 2027-12-31, within 30 days/.test(m)));
  const after = lintPolicy(config, day('2028-01-02T00:00:00Z')).map((w) => w.message);
  t.ok(after.some((m) => /partner "bureau-a": NDA lapsed on 2027-12-31: the partner is refused/.test(m)));
});
