import { request as httpRequest } from 'node:http';
import t from 'tap';
import { ConfigError } from '../../src/config/issues.js';
import { parseConfig } from '../../src/config/load.js';
import { clientCertificate } from '../helpers/certs.js';
import { basicRoutes, startTestGateway, testKey } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { mint } from '../helpers/tokens.js';

/**
 * The admin plane carries officer tokens, customers' access histories and metrics. Beyond
 * loopback it is served only over TLS, optionally requiring client certificates (mTLS).
 */
const base = `
mode: demo
upstreams:
  loans: { url: "http://127.0.0.1:9700", allowPlaintext: true }
routes:
  - { id: customers.detail, method: GET, path: /api/customers/:id, upstream: loans }
`;

function issuesOf(text: string) {
  try {
    parseConfig('/etc/custodian/test.yaml', text, { env: {} });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

t.test('an admin plane beyond loopback without TLS, or with a half-configured TLS, is refused', async (t) => {
  for (const host of ['0.0.0.0', '10.0.0.5', '::', 'admin.internal']) {
    t.match(issuesOf(`${base}listen: { admin: { host: "${host}" } }\n`), [/^\/listen\/admin\/host: the admin plane listens beyond loopback only over TLS/], host);
  }
  t.same(issuesOf(`${base}listen: { admin: { host: 127.0.0.1 } }\n`), [], 'loopback without TLS is fine');
  t.same(issuesOf(`${base}listen: { admin: { host: 0.0.0.0 } }\nadmin: { tls: {} }\n`), [], 'beyond loopback with TLS is fine');
  t.match(issuesOf(`${base}admin: { tls: { cert: "PEM" } }\n`), [/^\/admin\/tls: admin\.tls\.cert and admin\.tls\.key must be given together/]);
  t.match(issuesOf(`${base}admin: { tls: { clientCertificate: require } }\n`), [/^\/admin\/tls\/clientCertificate: client certificates need admin\.tls\.clientCa/]);
});

// The admin plane does not need the upstream to answer; the gateway needs one configured.
const unusedUpstream = { upstreams: { origin: { url: 'http://127.0.0.1:9', allowPlaintext: true } }, routes: basicRoutes() };

function plainHttpGet(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = httpRequest(url.replace('https:', 'http:'), (res) => resolve(`status ${res.statusCode}`));
    req.on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code}`));
    req.setTimeout(3000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

t.test('admin plane over TLS with the data plane certificate: health, metrics, no plaintext', async (t) => {
  const gw = await startTestGateway(t, { ...unusedUpstream, admin: { tls: {} } });
  t.match(gw.adminUrl, /^https:/);
  const port = Number(new URL(gw.adminUrl).port);
  t.equal((await rawHttps(port, get('/healthz'), { ca: gw.ca })).status, 200);
  t.match((await rawHttps(port, get('/metrics'), { ca: gw.ca })).body, /custodian_/);
  t.notMatch(await plainHttpGet(gw.adminUrl), /^status 200/, 'plaintext HTTP gets no answer');
});

t.test('admin plane with required client certificates: no certificate, no connection; tokens still required', async (t) => {
  const gw = await startTestGateway(t, { ...unusedUpstream, admin: { tls: { clientCa: { file: 'client-ca.pem' }, clientCertificate: 'require' } } });
  const port = Number(new URL(gw.adminUrl).port);
  await t.rejects(rawHttps(port, get('/metrics'), { ca: gw.ca }), 'the handshake fails without a client certificate');
  const prometheus = await clientCertificate('prometheus');
  t.equal((await rawHttps(port, get('/metrics'), { ca: gw.ca, ...prometheus })).status, 200, 'with one it connects');
  const noToken = await rawHttps(port, get('/audit/subjects/42'), { ca: gw.ca, ...prometheus });
  t.equal(noToken.status, 401, 'a certificate is not an officer: the API still wants a token');
  const officer = await mint(testKey, { sub: 'officer.li', roles: ['information_officer'] });
  const withToken = await rawHttps(port, get('/audit/subjects/42', [`Authorization: Bearer ${officer}`]), { ca: gw.ca, ...prometheus });
  t.equal(withToken.status, 200);
});
