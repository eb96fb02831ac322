import { request } from 'undici';
import t from 'tap';
import { basicRoutes, startTestGateway } from '../helpers/gateway.js';
import { startOrigin } from '../helpers/origin.js';

t.test('the plaintext listener refuses every request without data or redirect', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, {
    listen: {
      data: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      plaintext: { host: '127.0.0.1', port: 0 },
    },
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: basicRoutes(),
  });
  for (const [method, path] of [
    ['GET', '/api/customers/42'],
    ['POST', '/api/customers'],
    ['GET', '/api/customers/110101199003071234'],
    ['GET', '/'],
  ] as const) {
    const res = await request(`${gw.plaintextUrl}${path}`, { method, body: method === 'POST' ? '{"idNumber":"x"}' : undefined });
    const body = await res.body.text();
    t.equal(res.statusCode, 403, `${method} ${path}`);
    t.equal(JSON.parse(body).error.code, 'CUSTODIAN_TLS_REQUIRED');
    t.notOk(res.headers.location, 'no redirect');
    t.notMatch(body, /110101|customers/, 'the path is not echoed');
  }
  t.equal(origin.seen.length, 0, 'nothing reached the upstream');
});

t.test('admin plane: healthz and readyz on their own address; data plane does not serve them', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes: basicRoutes() });
  t.not(gw.adminUrl, gw.dataUrl);
  const health = await request(`${gw.adminUrl}/healthz`);
  t.same(await health.body.json(), { status: 'ok' });
  const ready = await request(`${gw.adminUrl}/readyz`);
  t.equal(ready.statusCode, 200);
  t.match(await ready.body.json(), { status: 'ready', config: { loaded: true, routes: 3, upstreams: 1 } });
});

t.test('TLS below 1.2 is refused by the data plane', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes: basicRoutes() });
  const { connect } = await import('node:tls');
  const outcome = await new Promise<string>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: gw.port, ca: gw.ca, servername: 'localhost', maxVersion: 'TLSv1.1', minVersion: 'TLSv1' });
    socket.on('secureConnect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', () => resolve('refused'));
  });
  t.equal(outcome, 'refused');
});
