import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { basicRoutes, staffHeaders, startTestGateway } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';

t.test('revocation: a role removed from a purpose is refused on the very next request; in-flight requests finish under their policy', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  let releaseSlow: (() => void) | undefined;
  origin.handle((req, res) => {
    const send = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":1}');
    if (req.url?.includes('slow')) releaseSlow = send;
    else send();
  });
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: [...basicRoutes(), { id: 'slow', method: 'GET', path: '/api/slow', upstream: 'origin', purposes: ['credit_assessment'] }],
    classification: { fields: { id: { class: 'public' } } },
  });
  const auth = await staffHeaders();
  t.equal((await rawHttps(gw.port, get('/api/customers/1', auth), { ca: gw.ca })).status, 200, 'allowed before');

  const inFlight = rawHttps(gw.port, get('/api/slow', auth), { ca: gw.ca });
  while (!releaseSlow) await new Promise((r) => setTimeout(r, 5));

  const file = join(gw.dir, 'custodian.yaml');
  const config = parse(readFileSync(file, 'utf8'));
  config.purposes[0].roles = []; // credit_assessment: credit_officer removed
  writeFileSync(file, stringify(config));
  const result = await gw.reload();
  t.equal(result.ok, true, 'reloaded');

  const next = await rawHttps(gw.port, get('/api/customers/1', auth), { ca: gw.ca });
  t.equal(next.status, 403, 'the very next request is refused');
  t.equal(JSON.parse(next.body).error.code, 'CUSTODIAN_PURPOSE_NOT_ALLOWED');

  releaseSlow();
  const slow = await inFlight;
  t.equal(slow.status, 200, 'the request that started under the old policy finished under it');
  t.same(JSON.parse(slow.body), { id: 1 });
});

t.test('a broken policy is refused on reload; the running one stays and every error is reported', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes: basicRoutes() });
  const auth = await staffHeaders();
  const file = join(gw.dir, 'custodian.yaml');
  const good = readFileSync(file, 'utf8');
  const versionBefore = gw.policy.current.version;

  const broken = parse(good);
  broken.routes[0].upstream = 'nowhere';
  broken.purposes[0].lawfulBasis = 'because';
  writeFileSync(file, stringify(broken));
  const failed = await gw.reload();
  t.equal(failed.ok, false);
  if (!failed.ok) t.ok(failed.errors.some((e) => /lawfulBasis/.test(e)), 'schema errors with their path');
  t.equal(gw.policy.current.version, versionBefore, 'the running policy stays');
  t.equal((await rawHttps(gw.port, get('/api/customers/1', auth), { ca: gw.ca })).status, 200, 'and keeps serving');

  const ready = await request(`${gw.adminUrl}/readyz`);
  t.match(await ready.body.json(), { config: { version: versionBefore, lastReload: { ok: false, errors: [/lawfulBasis/] } } }, '/readyz shows the failure');
  const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  t.match(metrics, /custodian_policy_reloads_total\{result="failure"\} 1/);
  t.match(metrics, /custodian_policy_last_reload_success 0/);

  const listenChanged = parse(good);
  listenChanged.listen.data.port = 1;
  writeFileSync(file, stringify(listenChanged));
  const restartOnly = await gw.reload();
  t.match(restartOnly, { ok: false, errors: [/listen changed: restart/] }, 'parts that need a restart are refused, not half-applied');

  writeFileSync(file, good);
  t.match(await gw.reload(), { ok: true }, 'a good file reloads again');
  t.match(await (await request(`${gw.adminUrl}/metrics`)).body.text(), /custodian_policy_last_reload_success 1/);
});
