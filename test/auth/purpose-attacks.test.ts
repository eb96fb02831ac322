import t from 'tap';
import { basicRoutes, startTestGateway, testKey } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';
import { mint } from '../helpers/tokens.js';

const now = Math.floor(Date.now() / 1000);
const officer = `Authorization: Bearer ${await mint(testKey)}`;
const lapsed = `Authorization: Bearer ${await mint(testKey, { sub: 'u-lapsed', attestations: { training: now - 86400, nda: true } })}`;
const noNda = `Authorization: Bearer ${await mint(testKey, { attestations: { training: now + 86400 } })}`;
const agent = `Authorization: Bearer ${await mint(testKey, { sub: 'u-cs-1', roles: ['cs_agent'] })}`;
const partner = `Authorization: Bearer ${await mint(testKey, { sub: 'bureau-a', kind: 'partner', org: 'bureau-a', roles: ['bureau'] })}`;

const cases: { name: string; headers: string[]; path?: string; code: string }[] = [
  { name: 'missing purpose', headers: [officer], code: 'CUSTODIAN_PURPOSE_MISSING' },
  { name: 'empty purpose', headers: [officer, 'X-Purpose: '], code: 'CUSTODIAN_PURPOSE_MISSING' },
  { name: 'duplicated purpose header', headers: [officer, 'X-Purpose: credit_assessment', 'X-Purpose: credit_assessment'], code: 'CUSTODIAN_PURPOSE_MISSING' },
  { name: 'two different purposes', headers: [officer, 'X-Purpose: customer_service', 'X-Purpose: credit_assessment'], code: 'CUSTODIAN_PURPOSE_MISSING' },
  { name: 'comma-joined purposes', headers: [officer, 'X-Purpose: credit_assessment,customer_service'], code: 'CUSTODIAN_PURPOSE_MISSING' },
  { name: 'unknown purpose', headers: [officer, 'X-Purpose: marketing'], code: 'CUSTODIAN_PURPOSE_UNKNOWN' },
  { name: 'purpose with odd case', headers: [officer, 'X-Purpose: Credit_Assessment'], code: 'CUSTODIAN_PURPOSE_UNKNOWN' },
  { name: 'prototype key as purpose', headers: [officer, 'X-Purpose: __proto__'], code: 'CUSTODIAN_PURPOSE_UNKNOWN' },
  { name: 'purpose not allowed for the role', headers: [officer, 'X-Purpose: customer_service'], code: 'CUSTODIAN_PURPOSE_NOT_ALLOWED' },
  { name: 'role allowed, purpose not on this route', headers: [partner, 'X-Purpose: partner_credit_check'], code: 'CUSTODIAN_PURPOSE_NOT_ALLOWED' },
  { name: 'agent trying credit assessment', headers: [agent, 'X-Purpose: credit_assessment'], code: 'CUSTODIAN_PURPOSE_NOT_ALLOWED' },
  { name: 'review expired', headers: [officer, 'X-Purpose: stale_project'], code: 'CUSTODIAN_PURPOSE_REVIEW_EXPIRED' },
  { name: 'training lapsed', headers: [lapsed, 'X-Purpose: credit_assessment'], code: 'CUSTODIAN_ATTESTATION_LAPSED' },
  { name: 'NDA attestation missing', headers: [noNda, 'X-Purpose: credit_assessment'], code: 'CUSTODIAN_ATTESTATION_LAPSED' },
  { name: 'purpose smuggled in the query string', path: '/api/customers/1?X-Purpose=credit_assessment', headers: [officer], code: 'CUSTODIAN_PURPOSE_MISSING' },
];

t.test('every purpose violation is refused with its code and never forwarded', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes: basicRoutes() });
  for (const c of cases) {
    const res = await rawHttps(gw.port, get(c.path ?? '/api/customers/1', c.headers), { ca: gw.ca });
    t.equal(res.status, 403, `${c.name}: status`);
    t.equal(JSON.parse(res.body).error.code, c.code, `${c.name}: code`);
    t.notMatch(res.body, /eyJ/, 'no token in the message');
  }
  t.equal(origin.seen.length, 0, 'upstream never called');
  for (const [token, purpose] of [[officer, 'credit_assessment'], [agent, 'customer_service']] as const) {
    const ok = await rawHttps(gw.port, get('/api/customers/1', [token, `X-Purpose: ${purpose}`]), { ca: gw.ca });
    t.equal(ok.status, 200, `${purpose} allowed for its role`);
  }
  t.equal(origin.seen.length, 2);
});

t.test('a route without purposes refuses everyone; the purpose header name is configurable', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: [...basicRoutes(), { id: 'closed', method: 'GET', path: '/api/closed', upstream: 'origin' }],
    auth: {
      purposeHeader: 'X-Processing-Purpose',
      issuers: [{ id: 'test-idp', issuer: 'https://idp.test.custodian', audience: 'custodian', algorithms: ['ES256'], keys: [{ kid: testKey.kid, key: { file: 'issuer-key.pem' } }] }],
    },
  });
  const closed = await rawHttps(gw.port, get('/api/closed', [officer, 'X-Processing-Purpose: credit_assessment']), { ca: gw.ca });
  t.equal(JSON.parse(closed.body).error.code, 'CUSTODIAN_PURPOSE_NOT_ALLOWED');
  const oldName = await rawHttps(gw.port, get('/api/customers/1', [officer, 'X-Purpose: credit_assessment']), { ca: gw.ca });
  t.equal(JSON.parse(oldName.body).error.code, 'CUSTODIAN_PURPOSE_MISSING');
  const ok = await rawHttps(gw.port, get('/api/customers/1', [officer, 'X-Processing-Purpose: credit_assessment']), { ca: gw.ca });
  t.equal(ok.status, 200);
  t.equal(origin.seen.length, 1);
});

t.test('frozen clock: expiry, review dates and attestations follow the gateway clock', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  let clock = Date.parse('2030-06-30T12:00:00Z');
  const gw = await startTestGateway(
    t,
    {
      upstreams: { origin: { url: origin.url, allowPlaintext: true } },
      routes: basicRoutes(),
      purposes: (await import('../helpers/tokens.js')).testPurposes('2030-06-30'),
      auth: {
        clockToleranceSec: 5,
        issuers: [{ id: 'test-idp', issuer: 'https://idp.test.custodian', audience: 'custodian', algorithms: ['ES256'], keys: [{ kid: testKey.kid, key: { file: 'issuer-key.pem' } }] }],
      },
    },
    { now: () => clock },
  );
  const t0 = clock / 1000;
  const token = `Authorization: Bearer ${await mint(testKey, { attestations: { training: t0 + 120, nda: true } }, { nowSec: t0, lifetimeSec: 300 })}`;
  const call = async () => {
    const res = await rawHttps(gw.port, get('/api/customers/1', [token, 'X-Purpose: credit_assessment']), { ca: gw.ca });
    return res.status === 200 ? 'ok' : JSON.parse(res.body).error.code;
  };
  t.equal(await call(), 'ok', 'valid at issue time');
  t.equal(await call(), 'ok', 'valid again from the cache');
  clock += 121_000;
  t.equal(await call(), 'CUSTODIAN_ATTESTATION_LAPSED', 'training lapsed two minutes in (cached token, fresh check)');
  clock += 200_000;
  t.equal(await call(), 'CUSTODIAN_AUTH_EXPIRED', 'the cached entry does not outlive exp');
  clock = Date.parse('2030-07-01T00:00:01Z');
  const fresh = `Authorization: Bearer ${await mint(testKey, {}, { nowSec: clock / 1000 })}`;
  const res = await rawHttps(gw.port, get('/api/customers/1', [fresh, 'X-Purpose: credit_assessment']), { ca: gw.ca });
  t.equal(JSON.parse(res.body).error.code, 'CUSTODIAN_PURPOSE_REVIEW_EXPIRED', 'review ends with its last day');
  t.equal(origin.seen.length, 2);
});
