import { readFileSync } from 'node:fs';
import { request } from 'undici';
import t from 'tap';
import { waitFor } from '../helpers/wait.js';
import { listSegments } from '../../src/audit/segments.js';
import type { ChainedRecord } from '../../src/audit/record.js';
import { verifyDatabase } from '../../src/audit/verify.js';
import { subjectHistory } from '../../src/store/audit-store.js';
import { customer } from '../../src/demo/dataset.js';
import { basicRoutes, staffHeaders, startTestGateway, testKey } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';
import { mint } from '../helpers/tokens.js';

const classification = {
  fields: {
    id: { class: 'public' },
    items: { class: 'public' },
    name: { class: 'C2', operator: { mask: 'name' } },
    idNumber: { class: 'C2', operator: { mask: 'resident_id' } },
    mobile: { class: 'C2', operator: { mask: 'mobile' } },
    remarks: { class: 'C1' },
  },
};

async function journalRecords(dir: string): Promise<ChainedRecord[]> {
  const out: ChainedRecord[] = [];
  for (const s of await listSegments(dir)) {
    for (const line of readFileSync(s.file, 'utf8').split('\n')) if (line) out.push(JSON.parse(line));
  }
  return out;
}

t.test('every request leaves records: allowed (decision + completion) and refused, masked, with subjects', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const c = customer(42);
  origin.handle((req, res) => {
    const body = req.url?.startsWith('/api/customers?')
      ? JSON.stringify({ items: [customer(1), customer(2), customer(3)] })
      : JSON.stringify({ id: 42, name: c.name, idNumber: c.idNumber, mobile: c.mobile, remarks: c.remarks });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  const routes = [
    { ...basicRoutes()[0], subjects: [{ param: 'customerId' }] },
    { id: 'customers.list', method: 'GET', path: '/api/customers', upstream: 'origin', purposes: ['customer_service'], subjects: [{ jsonPath: '$.items[*].id' }, { query: 'ref' }] },
  ];
  const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes, classification });
  const auth = await staffHeaders();
  const agent = [`Authorization: Bearer ${await mint(testKey, { sub: 'u-cs-9', roles: ['cs_agent'] })}`, 'X-Purpose: customer_service'];
  const ok = await rawHttps(gw.port, get(`/api/customers/42?phone=${c.mobile}`, auth), { ca: gw.ca });
  t.equal(ok.status, 200);
  const list = await rawHttps(gw.port, get('/api/customers?ref=77', agent), { ca: gw.ca });
  t.equal(list.status, 200);
  const refused = await rawHttps(gw.port, get('/api/customers/43', [auth[0] as string, 'X-Purpose: customer_service']), { ca: gw.ca });
  t.equal(refused.status, 403);
  const unauthenticated = await rawHttps(gw.port, get('/api/customers/44'), { ca: gw.ca });
  t.equal(unauthenticated.status, 401);

  // Completion records are written after the response: wait for the last one.
  const records = await waitFor(async () => {
    const all = await journalRecords(`${gw.dir}/var/audit`);
    return all.some((r) => r.record.type === 'completion' && r.record.requestId === ok.headers['x-request-id']) && all;
  }, 'the completion record');
  const byRequest = (id: string | undefined) => records.filter((r) => r.record.requestId === id).map((r) => r.record);

  const okRecords = byRequest(ok.headers['x-request-id']);
  t.same(okRecords.map((r) => r.type), ['decision', 'completion'], 'decision first, then completion');
  const [decision, completion] = okRecords;
  t.match(decision, { decision: 'allow', reason: 'OK', purpose: 'credit_assessment', route: 'customers.detail', method: 'GET', caller: { sub: 'u-credit-001', kind: 'staff', roles: ['credit_officer'] }, subjects: { ids: ['42'], count: 1 }, client: { ip: '127.0.0.1' } });
  t.match(decision?.tls, { version: /^TLSv1\.[23]$/ });
  t.equal(decision?.query, `phone=${c.mobile.slice(0, 3)}****${c.mobile.slice(-4)}`, 'query recorded, masked');
  t.notMatch(JSON.stringify(okRecords), c.mobile, 'the query value is masked in the record');
  t.match(completion, { status: 200, decision: 'allow' });
  t.ok((completion?.bytes ?? 0) > 0);
  t.ok((completion?.latencyMs ?? -1) >= 0);
  t.match(completion?.fields, { masked: ['idNumber', 'mobile', 'name'], kept: ['id', 'remarks'] });

  const listRecords = byRequest(list.headers['x-request-id']);
  t.same(listRecords.at(-1)?.subjects, { ids: ['77', '1', '2', '3'], count: 4 }, 'subjects from the query and the response body');

  t.match(byRequest(refused.headers['x-request-id']), [{ type: 'decision', decision: 'deny', reason: 'CUSTODIAN_PURPOSE_NOT_ALLOWED', status: 403, subjects: { ids: ['43'] } }]);
  t.match(byRequest(unauthenticated.headers['x-request-id']), [{ type: 'decision', decision: 'deny', reason: 'CUSTODIAN_AUTH_MISSING', status: 401 }]);

  const all = JSON.stringify(records);
  for (const clear of [c.idNumber, c.mobile, c.name, customer(1).idNumber]) t.notMatch(all, clear, 'no clear personal value in any record');
  t.notMatch(all, /eyJ/, 'no token in any record');

  // Shipped to the store, chain intact there, and the officer's query answers.
  await gw.audit.shipper.shipOnce();
  const reports = await verifyDatabase(gw.db, undefined);
  const mine = reports.find((r) => r.instance === records[0]?.instance);
  t.equal(mine?.records, records.length, 'every journal record is in the database');
  t.equal(mine?.firstProblem, undefined);
  const history = await subjectHistory(gw.db, '42', new Date(Date.now() - 60_000), new Date(Date.now() + 60_000), { pseudonymKeys: new Map(), activePseudonymKey: undefined });
  t.match(history.filter((h) => h.caller === 'u-credit-001'), [{ purpose: 'credit_assessment', route: 'customers.detail', decision: 'allow', status: 200, roles: ['credit_officer'], revealedClasses: [] }]);
  const officer = await mint(testKey, { sub: 'officer.li', roles: ['information_officer'] });
  const admin = await request(`${gw.adminUrl}/audit/subjects/43`, { headers: { authorization: `Bearer ${officer}` } });
  t.match(await admin.body.json(), { subject: '43', accesses: [{ decision: 'deny', caller: 'u-credit-001' }] }, 'refused attempts show too');

  // Shipping is idempotent: sending everything again adds nothing.
  const { insertAuditBatch } = await import('../../src/store/audit-store.js');
  t.equal(await insertAuditBatch(gw.db, records), 0, 'no duplicates');
});

t.test('an exhausted spool budget refuses data requests with 503 and readyz says why', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: basicRoutes(),
    audit: { spoolBudgetBytes: 4096, shipIntervalMs: 3_600_000, checkpoint: { key: { file: 'checkpoint-key.pem' } } },
  });
  await gw.audit.shipper.stop(); // as if the database were down: nothing is shipped
  const auth = await staffHeaders();
  let status = 200;
  let served = 0;
  for (let i = 0; i < 40 && status === 200; i++) {
    status = (await rawHttps(gw.port, get('/api/customers/1', auth), { ca: gw.ca })).status;
    if (status === 200) served++;
  }
  const before = origin.seen.length;
  const refused = await rawHttps(gw.port, get('/api/customers/1', auth), { ca: gw.ca });
  t.equal(refused.status, 503);
  t.equal(JSON.parse(refused.body).error.code, 'CUSTODIAN_AUDIT_UNAVAILABLE');
  t.equal(origin.seen.length, before, 'the upstream is not called when the request cannot be recorded');
  t.ok(served > 0, `${served} requests were served while the spool had room`);
  const ready = await request(`${gw.adminUrl}/readyz`);
  t.equal(ready.statusCode, 503);
  t.match(await ready.body.json(), { status: 'not_ready', audit: { ready: false, journal: { exhausted: true } } });

  await gw.audit.shipper.shipOnce(); // the database is back
  t.equal((await rawHttps(gw.port, get('/api/customers/1', auth), { ca: gw.ca })).status, 200, 'served again once shipped');
});
