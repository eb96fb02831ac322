import { gzipSync } from 'node:zlib';
import t from 'tap';
import { basicRoutes, staffHeaders, startTestGateway, testKey } from '../helpers/gateway.js';
import { mint } from '../helpers/tokens.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';

const auth = await staffHeaders();
const classification = {
  fields: {
    id: { class: 'public' },
    items: { class: 'public' },
    name: { class: 'C2', operator: { mask: 'name' } },
    mobile: { class: 'C2', operator: { mask: 'mobile' } },
    idNumber: { class: 'C2', operator: { mask: 'resident_id' } },
    remarks: { class: 'C1' },
    detail: { class: 'public' },
  },
};
const record = { id: 1, name: '张三丰', mobile: '13812345678', idNumber: '110101199003071237', remarks: '备用13912345678' };
const CLEAR = /13812345678|13912345678|110101199003071237|张三丰/;

async function setup(t: Test, extra: Record<string, unknown> = {}, routeExtra: Record<string, unknown> = {}) {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const routes = basicRoutes().map((r) => ({ ...r, ...routeExtra }));
  const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes, classification, ...extra });
  const call = (path = '/api/customers/1', headers = auth) => rawHttps(gw.port, get(path, headers), { ca: gw.ca });
  return { origin, gw, call };
}

type Test = { teardown(fn: () => unknown): void };

t.test('a JSON response is masked, loses upstream length/validators and gets no-store', async (t) => {
  const { origin, call } = await setup(t);
  origin.handle((req, res) => {
    t.equal(req.headers['accept-encoding'], 'identity', 'the gateway asks for an uncompressed body');
    const body = JSON.stringify(record);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), etag: '"abc"', 'content-md5': 'x', 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT' });
    res.end(body);
  });
  const res = await call();
  t.equal(res.status, 200);
  t.same(JSON.parse(res.body), { id: 1, name: '张**', mobile: '138****5678', idNumber: '1101**********1237', remarks: '备用139****5678' });
  t.notOk(res.headers.etag);
  t.notOk(res.headers['content-md5']);
  t.notOk(res.headers['last-modified']);
  t.equal(res.headers['cache-control'], 'no-store');
  t.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body), 'length of the masked body, not the upstream one');
});

t.test('content that cannot be masked is refused with 502 and none of it is released', async (t) => {
  const { origin, call } = await setup(t, { masking: { maxDecompressedBytes: 1048576 } });
  const cases: [string, (res: import('node:http').ServerResponse) => void, string][] = [
    ['text/plain body', (res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('张三丰 13812345678'), 'CUSTODIAN_TRANSFORM_UNSUPPORTED_CONTENT'],
    ['no content type', (res) => res.writeHead(200).end(JSON.stringify(record)), 'CUSTODIAN_TRANSFORM_UNSUPPORTED_CONTENT'],
    ['HTML', (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<b>13812345678</b>'), 'CUSTODIAN_TRANSFORM_UNSUPPORTED_CONTENT'],
    ['invalid JSON', (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"mobile":"13812345678",'), 'CUSTODIAN_TRANSFORM_INVALID_BODY'],
    ['JSON nested 3,000 deep', (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`${'['.repeat(3000)}"13812345678"${']'.repeat(3000)}`), 'CUSTODIAN_TRANSFORM_INVALID_BODY'],
    [
      'truncated body',
      (res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
        res.write('{"mobile":"13812345678","name":"张三丰"');
        setTimeout(() => res.socket?.destroy(), 30);
      },
      'CUSTODIAN_TRANSFORM_TRUNCATED',
    ],
    ['unknown content encoding', (res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'compress' }).end(JSON.stringify(record)), 'CUSTODIAN_TRANSFORM_ENCODING'],
    [
      'gzip bomb',
      (res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(Buffer.from(`{"remarks":"${'0'.repeat(3_000_000)}"}`))),
      'CUSTODIAN_TRANSFORM_ENCODING',
    ],
    ['corrupt gzip', (res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end('not gzip 13812345678'), 'CUSTODIAN_TRANSFORM_ENCODING'],
  ];
  for (const [name, respond, code] of cases) {
    origin.handle((_req, res) => respond(res));
    const res = await call();
    t.equal(res.status, 502, `${name}: 502`);
    t.equal(JSON.parse(res.body).error.code, code, name);
    t.notMatch(res.body, CLEAR, `${name}: nothing of the body released`);
    t.notOk(res.headers['content-encoding'], `${name}: no upstream header survives`);
  }
});

t.test('route-level controls: pass-through for named purposes, +json types, error bodies, gzip, observe', async (t) => {
  const { origin, call } = await setup(
    t,
    { masking: { maxDecompressedBytes: 1048576 } },
    { passthrough: ['customer_service'] },
  );
  origin.handle((_req, res) => res.writeHead(200, { 'content-type': 'application/pdf' }).end('%PDF-1.7 document'));
  t.equal((await call()).status, 502, 'credit_assessment gets no raw pass-through');
  const agent = [`Authorization: Bearer ${await mint(testKey, { roles: ['cs_agent'] })}`, 'X-Purpose: customer_service'];
  const raw = await call('/api/customers/1', agent);
  t.equal(raw.status, 200, 'customer_service may receive the PDF as is');
  t.equal(raw.body, '%PDF-1.7 document');

  origin.handle((_req, res) => res.writeHead(404, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ detail: { mobile: '13812345678' } })));
  const problem = await call();
  t.equal(problem.status, 404, 'upstream status kept');
  t.same(JSON.parse(problem.body), { detail: { mobile: '138****5678' } }, 'error bodies are masked too');

  origin.handle((_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(JSON.stringify(record))));
  const gz = await call();
  t.equal(gz.status, 200, 'an upstream that compresses anyway is decompressed');
  t.notOk(gz.headers['content-encoding']);
  t.equal(JSON.parse(gz.body).mobile, '138****5678');
});

t.test('observe mode: the view is computed, the upstream body released unchanged', async (t) => {
  const { origin, call } = await setup(t, {}, { observe: true });
  origin.handle((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(record)));
  const res = await call();
  t.equal(res.status, 200);
  t.same(JSON.parse(res.body), record, 'unchanged: observe does not mask');
});

t.test('large arrays stream through masked; a large non-array is refused; a stream that breaks midway is cut off', async (t) => {
  const { origin, call } = await setup(t, { masking: { streamThresholdBytes: 65536, maxBufferedBytes: 262144 } });
  const many = Array.from({ length: 20_000 }, (_, i) => ({ ...record, id: i }));
  origin.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const body = JSON.stringify(many);
    for (let i = 0; i < body.length; i += 50_000) res.write(body.slice(i, i + 50_000));
    res.end();
  });
  const streamed = await call();
  t.equal(streamed.status, 200);
  t.equal(streamed.headers['transfer-encoding'], 'chunked', 'streamed, not buffered');
  const rows = JSON.parse(streamed.body);
  t.equal(rows.length, 20_000);
  t.equal(rows[19_999].mobile, '138****5678');
  t.notMatch(streamed.body, CLEAR);

  origin.handle((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: many })));
  const tooLarge = await call();
  t.equal(tooLarge.status, 502);
  t.equal(JSON.parse(tooLarge.body).error.code, 'CUSTODIAN_TRANSFORM_TOO_LARGE');

  origin.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(JSON.stringify(many).slice(0, 200_000));
    res.end(',{"mobile":"13812345678" oops}]');
  });
  const broken = await call();
  t.ok(broken.truncated, 'the client sees the response cut off, never completed');
  t.notMatch(broken.body, CLEAR, 'and nothing unmasked');
});

t.test('each route scans free text for the kinds it names; the rest are all scanned by default', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const numbersOnly = ['residentId', 'mobile', 'bankCard'];
  const routes = basicRoutes().map((r) => (r.id === 'customers.loans' ? { ...r, detectors: numbersOnly } : r));
  const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes, classification });
  const remarks = '客户王小明来电，邮箱wang.xm@example.com，手机13912345678，住浙江省杭州市西湖区文三路90号3单元501室，护照E12345678';
  origin.handle((_req, res) => {
    const body = JSON.stringify({ id: 1, remarks });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  const all = JSON.parse((await rawHttps(gw.port, get('/api/customers/1', auth), { ca: gw.ca })).body).remarks as string;
  const some = JSON.parse((await rawHttps(gw.port, get('/api/customers/1/loans', auth), { ca: gw.ca })).body).remarks as string;
  for (const clear of ['王小明', 'wang.xm@example.com', '13912345678', '文三路90号', 'E12345678']) t.notOk(all.includes(clear), `default route: ${clear} masked`);
  t.notOk(some.includes('13912345678'), 'numbers-only route: the mobile masked');
  for (const clear of ['王小明', 'wang.xm@example.com', '文三路90号', 'E12345678']) t.ok(some.includes(clear), `numbers-only route: ${clear} left as the route chose`);
});
