import { readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { crossCheck } from '../../src/audit/cross-check.js';
import { listSegments } from '../../src/audit/segments.js';
import { verifyJournal } from '../../src/audit/verify.js';
import { basicRoutes, staffHeaders, startTestGateway } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';

// Regression (hostile-peer review): records cut from the end of the journal, or the newest rows
// deleted from the database, verified OK — a shorter chain is still a valid chain.
t.test('audit verify sees records cut from the end of the journal or of the database', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes: basicRoutes() });
  const headers = await staffHeaders();
  for (let i = 0; i < 30; i++) t.equal((await rawHttps(gw.port, get(`/api/customers/${i}`, headers), { ca: gw.ca })).status, 200);
  await gw.audit.flush();
  await gw.audit.shipper.shipOnce();
  const dir = gw.audit.journal.dir;
  const instance = gw.audit.journal.instance;
  const check = async () => (await crossCheck(dir, gw.db)).find((r) => r.instance === instance);
  t.same((await check())?.problems, [], 'whole copies agree');

  const [segment] = (await listSegments(dir, instance)).slice(-1);
  const file = segment?.file as string;
  const original = readFileSync(file, 'utf8');
  const lines = original.split('\n').filter(Boolean);
  writeFileSync(file, `${lines.slice(0, -10).join('\n')}\n`);
  t.same((await verifyJournal(dir, undefined)).find((r) => r.instance === instance)?.firstProblem, undefined, 'the cut journal is a valid chain on its own');
  t.match((await check())?.problems.join('\n'), /cut from the journal/, 'the cross-check sees the cut');
  writeFileSync(file, original);

  const head = (await check())?.databaseHead as number;
  await gw.db.query('DELETE FROM audit_events WHERE instance_id = $1 AND seq > $2', [instance, head - 5]);
  t.match((await check())?.problems.join('\n'), /removed from the database/, 'rows deleted from the database are seen');
});
