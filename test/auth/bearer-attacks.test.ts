import { createHmac } from 'node:crypto';
import t from 'tap';
import { basicRoutes, startTestGateway, testKey } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';
import { mint, signingKey } from '../helpers/tokens.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const valid = await mint(testKey);
const [vh, vp, vs] = valid.split('.') as [string, string, string];
const otherKey = signingKey(testKey.kid); // same kid, different key
const baseClaims = { iss: 'https://idp.test.custodian', aud: 'custodian', sub: 'u-credit-001', roles: ['credit_officer'], kind: 'staff', attestations: { training: now + 86400, nda: true }, iat: now, exp: now + 600 };

const hs256WithPublicKey = (() => {
  const header = b64({ alg: 'HS256', kid: testKey.kid, typ: 'JWT' });
  const payload = b64(baseClaims);
  const sig = createHmac('sha256', testKey.publicPem).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${sig}`;
})();

interface Case {
  name: string;
  headers: string[];
  path?: string;
  status: number;
  code: string;
}

const bearer = (token: string) => `Authorization: Bearer ${token}`;
const purpose = 'X-Purpose: credit_assessment';

const cases: Case[] = [
  { name: 'no Authorization header', headers: [purpose], status: 401, code: 'CUSTODIAN_AUTH_MISSING' },
  { name: 'alg: none', headers: [bearer(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(baseClaims)}.`), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'HS256 signed with the issuer public key (algorithm confusion)', headers: [bearer(hs256WithPublicKey), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'expired', headers: [bearer(await mint(testKey, {}, { nowSec: now - 3600 })), purpose], status: 401, code: 'CUSTODIAN_AUTH_EXPIRED' },
  { name: 'nbf in the future', headers: [bearer(await mint(testKey, { nbf: now + 600 })), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'iat in the future', headers: [bearer(await mint(testKey, { iat: now + 600, exp: now + 900 })), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'no exp', headers: [bearer(await mint(testKey, { exp: undefined })), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'lifetime beyond the maximum', headers: [bearer(await mint(testKey, {}, { lifetimeSec: 7 * 86400 })), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'wrong iss', headers: [bearer(await mint(testKey, { iss: 'https://evil.example' })), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'wrong aud', headers: [bearer(await mint(testKey, { aud: 'another-service' })), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'unknown kid', headers: [bearer(await mint(signingKey('nobody'))), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'tampered payload', headers: [bearer(`${vh}.${b64({ ...baseClaims, roles: ['auditor', 'credit_officer'] })}.${vs}`), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'signature from another key', headers: [bearer(await mint(otherKey)), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'token longer than 8 KB', headers: [bearer(await mint(testKey, { pad: 'x'.repeat(9000) })), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'two Authorization headers', headers: [bearer(valid), bearer(valid), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'Authorization then a forged second one', headers: [bearer(valid), bearer(`${vh}.${vp}.forged`), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'token only in the query string', path: `/api/customers/1?access_token=${valid}`, headers: [purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'token in the query string as well as the header', path: `/api/customers/1?q=${valid}`, headers: [bearer(valid), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'lower-case bearer', headers: [`Authorization: bearer ${valid}`, purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'upper-case BEARER', headers: [`Authorization: BEARER ${valid}`, purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'two spaces after Bearer', headers: [`Authorization: Bearer  ${valid}`, purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'tab after Bearer', headers: [`Authorization: Bearer\t${valid}`, purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'Bearer with no token', headers: ['Authorization: Bearer', purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'two credentials in one header', headers: [`Authorization: Bearer ${valid}, Bearer ${valid}`, purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'Basic credentials', headers: ['Authorization: Basic dXNlcjpwYXNz', purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'not a JWT at all', headers: [bearer('abc.def'), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
  { name: 'kind claim of the wrong shape', headers: [bearer(await mint(testKey, { kind: 'root' })), purpose], status: 401, code: 'CUSTODIAN_AUTH_INVALID' },
];

t.test('every hostile credential is refused and the upstream is never called', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: basicRoutes(),
    auth: {
      maxTokenLifetimeSec: 3600,
      issuers: [{ id: 'test-idp', issuer: 'https://idp.test.custodian', audience: 'custodian', algorithms: ['ES256'], keys: [{ kid: testKey.kid, key: { file: 'issuer-key.pem' } }] }],
    },
  });
  for (const c of cases) {
    const res = await rawHttps(gw.port, get(c.path ?? '/api/customers/1', c.headers), { ca: gw.ca });
    t.equal(res.status, c.status, `${c.name}: status`);
    const body = JSON.parse(res.body);
    t.equal(body.error.code, c.code, `${c.name}: code`);
    t.match(res.headers['www-authenticate'], /^Bearer/, `${c.name}: WWW-Authenticate`);
    if (c.code !== 'CUSTODIAN_AUTH_MISSING') t.match(res.headers['www-authenticate'], /error="invalid_token"/);
    t.notMatch(res.body, /eyJ/, `${c.name}: the token is never echoed`);
  }
  t.equal(origin.seen.length, 0, 'no hostile request reached the upstream');

  const ok = await rawHttps(gw.port, get('/api/customers/1', [bearer(valid), purpose]), { ca: gw.ca });
  t.equal(ok.status, 200, 'the valid token still works');
  t.equal(origin.seen.length, 1);
});
