import t from 'tap';
import { basicRoutes, startTestGateway } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';
import { AUDIENCE, ISSUER, mint, signingKey, startJwks } from '../helpers/tokens.js';

t.test('remote JWKS: cached, refetched on an unknown kid, fail closed when down', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const k1 = signingKey('k1');
  const k2 = signingKey('k2');
  const jwks = await startJwks([k1]);
  t.teardown(() => jwks.close());
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: basicRoutes(),
    auth: {
      tokenCache: { maxEntries: 0 }, // every request verifies, so the JWKS behaviour is visible
      issuers: [
        {
          id: 'remote',
          issuer: ISSUER,
          audience: AUDIENCE,
          algorithms: ['ES256'],
          jwks: { url: jwks.url, allowPlaintext: true, cacheMaxAgeSec: 1, cooldownSec: 0 },
        },
      ],
    },
  });
  const call = async (token: string) => {
    const res = await rawHttps(gw.port, get('/api/customers/1', [`Authorization: Bearer ${token}`, 'X-Purpose: credit_assessment']), { ca: gw.ca });
    return res.status === 200 ? 'ok' : JSON.parse(res.body).error.code;
  };
  const t1 = await mint(k1);
  t.equal(await call(t1), 'ok');
  t.equal(await call(t1), 'ok');
  t.equal(jwks.fetches(), 1, 'keys fetched once and cached');

  jwks.setKeys([k1, k2]);
  t.equal(await call(await mint(k2)), 'ok', 'an unknown kid triggers a refetch (key rotation)');
  t.equal(jwks.fetches(), 2);

  jwks.down(true);
  t.equal(await call(t1), 'ok', 'while the cache is fresh, cached keys keep working with the endpoint down');
  t.equal(await call(await mint(signingKey('k3'))), 'CUSTODIAN_AUTH_INVALID', 'unknown kid with the endpoint down: refused');
  await new Promise((r) => setTimeout(r, 1200));
  t.equal(await call(t1), 'CUSTODIAN_AUTH_INVALID', 'after the cache expires with the endpoint down: fail closed');
  const seenBefore = origin.seen.length;

  jwks.down(false);
  t.equal(await call(t1), 'ok', 'recovers when the endpoint returns');
  t.equal(origin.seen.length, seenBefore + 1);
});

t.test('configuration refuses unsafe key sources: plaintext JWKS off loopback, symmetric algorithms', async (t) => {
  const { parseConfig } = await import('../../src/config/load.js');
  const base = `mode: demo
upstreams: { a: { url: "http://127.0.0.1:1", allowPlaintext: true } }
routes: [{ id: r, method: GET, path: /r, upstream: a }]
auth:
  issuers:
`;
  t.throws(
    () => parseConfig('/x.yaml', `${base}    - { id: i, issuer: x, audience: y, algorithms: [ES256], jwks: { url: "http://idp.example/jwks", allowPlaintext: true } }\n`, { env: {} }),
    /auth\/issuers\/0\/jwks\/url: a plaintext JWKS URL is allowed only on a loopback host/,
  );
  for (const alg of ['HS256', 'none']) {
    t.throws(
      () => parseConfig('/x.yaml', `${base}    - { id: j, issuer: z, audience: y, algorithms: [${alg}], keys: [{ key: k }] }\n`, { env: {} }),
      /auth\/issuers\/0\/algorithms\/0: "(HS256|none)" is not one of: /,
      `${alg} is not an accepted algorithm`,
    );
  }
  t.throws(
    () => parseConfig('/x.yaml', `${base}    - { id: j, issuer: z, audience: y, algorithms: [ES256] }\n`, { env: {} }),
    /exactly one key source/,
  );
});
