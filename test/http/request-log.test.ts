import t from 'tap';
import { residentIdCheckChar } from '../../src/mask/cn-checksums.js';
import { basicRoutes, staffHeaders, startTestGateway } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { captureLogs } from '../helpers/log-capture.js';
import { startOrigin } from '../helpers/origin.js';

const id = `11010119900307123${residentIdCheckChar('11010119900307123')}`;

t.test('the upstream gets clear request values; the log line has them masked and no token', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const logs = captureLogs();
  const gw = await startTestGateway(
    t,
    {
      upstreams: { origin: { url: origin.url, allowPlaintext: true } },
      routes: basicRoutes(),
      classification: { fields: { idNumber: { class: 'C2', operator: { mask: 'resident_id' } }, mobile: { class: 'C2', operator: { mask: 'mobile' } }, pin: { class: 'C3' } } },
    },
    { logger: logs.logger },
  );
  const auth = await staffHeaders();
  const path = `/api/customers/${id}?idNumber=${id}&mobile=13812345678&pin=9876&note=%E7%94%B5%E8%AF%9D13912345678`;
  const res = await rawHttps(gw.port, get(path, auth), { ca: gw.ca });
  t.equal(res.status, 200);
  t.equal(origin.seen[0]?.url, path, 'the upstream needs and gets the clear values');
  const lines = logs.lines();
  const requestLine = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'request');
  t.ok(requestLine, 'one structured line per request');
  t.equal(requestLine.path, '/api/customers/1101**********1237'.replace('1237', id.slice(-4)));
  t.match(requestLine.query, /idNumber=1101\*+\w{4}&mobile=138\*\*\*\*5678&pin=\[redacted\]&note=电话139\*\*\*\*5678/);
  t.equal(requestLine.route, 'customers.detail');
  t.equal(requestLine.purpose, 'credit_assessment');
  const all = lines.join('\n');
  t.notMatch(all, id, 'no clear ID number anywhere in the log');
  t.notMatch(all, /13812345678|13912345678|9876/);
  t.notMatch(all, /eyJ/, 'no token');
});
