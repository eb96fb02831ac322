import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import t from 'tap';
import { listSegments } from '../../src/audit/segments.js';
import { startTestGateway, testKey } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';
import { mint, testPurposes } from '../helpers/tokens.js';

t.test('bulk-access guard: distinct customers per caller and purpose, shared by replicas; exports count every customer', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  origin.handle((req, res) => {
    const count = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('count') ?? 0);
    const base = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('from') ?? 1000);
    const body = req.url?.startsWith('/api/export') ? Array.from({ length: count }, (_, i) => ({ id: String(base + i) })) : { id: 1 };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  const purposes = testPurposes().map((p) => (p.id === 'customer_service' ? { ...p, bulkLimit: { windowSeconds: 3600, alertAt: 3, refuseAt: 5 } } : p));
  const config = {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: [
      { id: 'detail', method: 'GET', path: '/api/customers/:customerId', upstream: 'origin', purposes: ['customer_service'], subjects: [{ param: 'customerId' }] },
      { id: 'export', method: 'GET', path: '/api/export', upstream: 'origin', purposes: ['customer_service'], subjects: [{ jsonPath: '$[*].id' }] },
    ],
    purposes,
    classification: { fields: { id: { class: 'public' } } },
  };
  const a = await startTestGateway(t, config);
  const b = await startTestGateway(t, config);
  const insider = [`Authorization: Bearer ${await mint(testKey, { sub: `insider-${Date.now()}`, roles: ['cs_agent'] })}`, 'X-Purpose: customer_service'];
  const colleague = [`Authorization: Bearer ${await mint(testKey, { sub: `colleague-${Date.now()}`, roles: ['cs_agent'] })}`, 'X-Purpose: customer_service'];
  const read = async (gw: typeof a, id: number, who = insider) => {
    const res = await rawHttps(gw.port, get(`/api/customers/${id}`, who), { ca: gw.ca });
    return res.status === 200 ? 'ok' : JSON.parse(res.body).error.code;
  };
  // Five distinct customers, spread over two replicas.
  t.same([await read(a, 1), await read(b, 2), await read(a, 3), await read(b, 4), await read(a, 5)], ['ok', 'ok', 'ok', 'ok', 'ok']);
  const seen = origin.seen.length;
  t.equal(await read(b, 6), 'CUSTODIAN_BULK_LIMIT', 'the sixth distinct customer is refused, on the other replica too');
  t.equal(await read(a, 7), 'CUSTODIAN_BULK_LIMIT');
  t.equal(origin.seen.length, seen, 'refused before the upstream');
  t.equal(await read(b, 3), 'ok', 'a customer already seen in the window can be read again');
  t.equal(await read(a, 6, colleague), 'ok', 'the limit is per caller');

  const exporter = [`Authorization: Bearer ${await mint(testKey, { sub: `exporter-${Date.now()}`, roles: ['cs_agent'] })}`, 'X-Purpose: customer_service'];
  const exported = await rawHttps(a.port, get('/api/export?count=4&from=5000', exporter), { ca: a.ca });
  t.equal(JSON.parse(exported.body).length, 4);
  const next = await rawHttps(b.port, get('/api/export?count=4&from=6000', exporter), { ca: b.ca });
  t.equal(next.status, 200, 'under the limit when it started');
  const third = await rawHttps(a.port, get('/api/export?count=1&from=7000', exporter), { ca: a.ca });
  t.equal(JSON.parse(third.body).error.code, 'CUSTODIAN_BULK_LIMIT', 'every exported customer counted: 8 ≥ 5');

  const metrics = (await (await request(`${a.adminUrl}/metrics`)).body.text()) + (await (await request(`${b.adminUrl}/metrics`)).body.text());
  t.match(metrics, /custodian_bulk_alerts_total\{purpose="customer_service"\} [1-9]/, 'the alert threshold raised the metric');
  await Promise.all([a, b].map((gw) => gw.audit.flush()));
  const flagged = [];
  for (const gw of [a, b]) {
    for (const s of await listSegments(join(gw.dir, 'var', 'audit'))) {
      for (const line of readFileSync(s.file, 'utf8').split('\n').filter(Boolean)) {
        const r = JSON.parse(line).record;
        if (r.detail?.bulkAlert) flagged.push(r);
      }
    }
  }
  t.ok(flagged.length >= 2, `flagged audit records at the alert threshold (${flagged.length})`);
});
