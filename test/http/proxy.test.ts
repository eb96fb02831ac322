import t from 'tap';
import { testPki } from '../helpers/certs.js';
import { basicRoutes, staffHeaders, startTestGateway } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';

const auth = await staffHeaders();
const authLines = auth.join('\r\n');

t.test('forwards exactly the matched path and query, with hop-by-hop and X-Custodian-* headers removed', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: basicRoutes(),
  });
  const res = await rawHttps(
    gw.port,
    get('/api/customers/42/loans?status=active&x=%E4%B8%AD', [
      'X-Custodian-Subject: forged-admin',
      'X-Custodian-Purpose: forged',
      'Connection: close, X-Secret-Hop',
      'X-Secret-Hop: should-not-arrive',
      'Keep-Alive: timeout=5',
      'Proxy-Authorization: Basic Zm9vOmJhcg==',
      (await staffHeaders())[0] as string,
      'Accept: application/json',
      `X-Purpose: credit_assessment`,
    ]),
    { ca: gw.ca },
  );
  t.equal(res.status, 200);
  t.equal(origin.seen.length, 1);
  const seen = origin.seen[0]!;
  t.equal(seen.url, '/api/customers/42/loans?status=active&x=%E4%B8%AD', 'path and query forwarded byte for byte');
  t.equal(seen.headers['x-custodian-subject'], 'u-credit-001', 'the gateway asserts the verified subject, not the forged one');
  t.equal(seen.headers['x-custodian-purpose'], 'credit_assessment', 'and the authorised purpose');
  t.equal(seen.headers['x-custodian-caller-kind'], 'staff');
  t.notOk(seen.headers['x-secret-hop'], 'header named in Connection is stripped');
  t.notOk(seen.headers['keep-alive']);
  t.notOk(seen.headers['proxy-authorization']);
  t.notOk(seen.headers.authorization, 'Authorization stripped unless the upstream asks for it');
  t.equal(seen.headers.accept, 'application/json');
  t.equal(seen.headers['x-custodian-request-id'], res.headers['x-request-id'], 'request id travels upstream');
  t.match(res.headers['strict-transport-security'], /max-age=\d+/);
});

t.test('X-Request-Id: a well-formed inbound id is kept, a hostile one replaced', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes: basicRoutes() });
  const kept = await rawHttps(gw.port, get('/api/customers/1', [...auth, 'X-Request-Id: trace-1234567890']), { ca: gw.ca });
  t.equal(kept.headers['x-request-id'], 'trace-1234567890');
  const replaced = await rawHttps(gw.port, get('/api/customers/1', [...auth, 'X-Request-Id: <script>alert(1)</script>']), { ca: gw.ca });
  t.match(replaced.headers['x-request-id'], /^[0-9a-f-]{36}$/);
  const refused = await rawHttps(gw.port, get('/nope', auth), { ca: gw.ca });
  t.equal(refused.status, 404);
  t.equal(JSON.parse(refused.body).error.requestId, refused.headers['x-request-id'], 'refusals carry the id in body and header');
});

t.test('a request matching no route is refused with 404 and never forwarded', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes: basicRoutes() });
  const cases = [
    get('/', auth),
    get('/api/customers', auth),
    get('/api/customers/42/documents', auth),
    get('/admin', auth),
    ['DELETE /api/customers/42 HTTP/1.1', 'Host: localhost', authLines, 'Connection: close', '', ''].join('\r\n'),
    ['TRACE /api/customers/42 HTTP/1.1', 'Host: localhost', authLines, 'Connection: close', '', ''].join('\r\n'),
  ];
  for (const request of cases) {
    const res = await rawHttps(gw.port, request, { ca: gw.ca });
    t.equal(res.status, 404, request.split('\r\n')[0] ?? '');
    t.equal(JSON.parse(res.body).error.code, 'CUSTODIAN_ROUTE_NOT_FOUND');
  }
  t.equal(origin.seen.length, 0, 'upstream never called');
});

t.test('ambiguous and hostile paths are refused with 400 and never forwarded', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: basicRoutes(),
    limits: { maxPathLength: 256 },
  });
  const hostile = [
    '/api/customers/..%2f..%2fadmin',
    '/api/customers/%2e%2e/admin',
    '/api/customers/%2E%2E%2Fadmin',
    '/api/customers/42/../43',
    '/api/customers/./42',
    '/api/customers/%252f',
    '/api/customers/%25252e',
    '/api/customers/42%5c..%5cadmin',
    '/api/customers\\42',
    '//api/customers/42',
    '/api//customers/42',
    '/api/customers/42;jsessionid=x',
    '/api/customers;/42',
    '/api/customers/42%00',
    '/api/customers/42%0d%0aX-Injected:%201',
    '/api/customers/%zz',
    '/api/customers/%c0%ae%c0%ae',
    '/api/customers/42?x=%00',
    `/api/customers/${'a'.repeat(300)}`,
    '/api/customers/<script>',
    '/api/customers/"42"',
    'http://evil.example/api/customers/42',
    '*',
  ];
  for (const path of hostile) {
    const res = await rawHttps(gw.port, get(path, auth), { ca: gw.ca });
    t.equal(res.status, 400, `refused: ${path.slice(0, 60)}`);
    t.equal(JSON.parse(res.body).error.code, 'CUSTODIAN_PATH_INVALID', path.slice(0, 60));
    t.notMatch(res.body, /admin|script|jsessionid|evil/, 'the refusal does not echo the path');
  }
  // A raw NUL byte in the request line is rejected by the HTTP parser itself.
  const nul = await rawHttps(gw.port, get('/api/customers/42\u0000'), { ca: gw.ca });
  t.equal(nul.status, 400);
  t.equal(origin.seen.length, 0, 'upstream never called');
});

t.test('oversized headers are refused with 431 before routing', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: basicRoutes(),
    limits: { maxHeaderBytes: 4096 },
  });
  const res = await rawHttps(gw.port, get('/api/customers/1', [...auth, `X-Big: ${'a'.repeat(8000)}`]), { ca: gw.ca });
  t.equal(res.status, 431);
  t.equal(JSON.parse(res.body).error.code, 'CUSTODIAN_HEADERS_TOO_LARGE');
  t.equal(origin.seen.length, 0);
});

t.test('a declared body over the limit is refused before it is read', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: basicRoutes(),
    limits: { maxBodyBytes: 1024 },
  });
  const body = JSON.stringify({ note: 'x'.repeat(2000) });
  const req = ['POST /api/customers HTTP/1.1', 'Host: localhost', authLines, 'Content-Type: application/json', `Content-Length: ${body.length}`, 'Connection: close', '', body].join('\r\n');
  const res = await rawHttps(gw.port, req, { ca: gw.ca });
  t.equal(res.status, 413);
  t.equal(JSON.parse(res.body).error.code, 'CUSTODIAN_BODY_TOO_LARGE');
  t.equal(origin.seen.length, 0);
});

t.test('upstream failures map to stable codes', async (t) => {
  t.test('an upstream that hangs → 504', async (t) => {
    const origin = await startOrigin();
    t.teardown(() => origin.close());
    origin.handle(() => {
      /* never answers */
    });
    const gw = await startTestGateway(t, {
      upstreams: { origin: { url: origin.url, allowPlaintext: true, responseTimeoutMs: 300 } },
      routes: basicRoutes(),
    });
    const res = await rawHttps(gw.port, get('/api/customers/1', auth), { ca: gw.ca });
    t.equal(res.status, 504);
    t.equal(JSON.parse(res.body).error.code, 'CUSTODIAN_UPSTREAM_TIMEOUT');
  });

  t.test('an upstream that refuses connections → 503', async (t) => {
    const origin = await startOrigin();
    const url = origin.url;
    await origin.close();
    const gw = await startTestGateway(t, { upstreams: { origin: { url, allowPlaintext: true } }, routes: basicRoutes() });
    const res = await rawHttps(gw.port, get('/api/customers/1', auth), { ca: gw.ca });
    t.equal(res.status, 503);
    t.equal(JSON.parse(res.body).error.code, 'CUSTODIAN_UPSTREAM_UNAVAILABLE');
  });

  t.test('an upstream that answers 503 is asked once, and its answer released', async (t) => {
    // reply-from re-sent such a GET up to ten times, Retry-After apart: one client request became
    // eleven upstream requests against an upstream that had just said it was overloaded.
    const origin = await startOrigin();
    t.teardown(() => origin.close());
    origin.handle((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
      res.end('{"busy":true}');
    });
    const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes: basicRoutes() });
    const res = await rawHttps(gw.port, get('/api/customers/1', auth), { ca: gw.ca });
    t.equal(res.status, 503);
    t.equal(origin.seen.length, 1, 'forwarded exactly once');
  });

  t.test('an upstream that answers with a status no client can be given → 502', async (t) => {
    const origin = await startOrigin();
    t.teardown(() => origin.close());
    origin.handle((req, res) => {
      // A 101 to a request that asked for no upgrade, written by hand.
      res.socket?.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      void req;
    });
    const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes: basicRoutes() });
    const res = await rawHttps(gw.port, get('/api/customers/1', auth), { ca: gw.ca });
    t.equal(res.status, 502);
    t.equal(JSON.parse(res.body).error.code, 'CUSTODIAN_UPSTREAM_ERROR');
    const after = await rawHttps(gw.port, get('/api/customers/1', auth), { ca: gw.ca });
    t.equal(after.status, 502, 'and the gateway is still serving');
  });

  t.test('an upstream that closes mid-body: the client never sees a complete response', async (t) => {
    const origin = await startOrigin();
    t.teardown(() => origin.close());
    origin.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"id":1,"name":"');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes: basicRoutes() });
    const res = await rawHttps(gw.port, get('/api/customers/1', auth), { ca: gw.ca });
    t.ok(res.status !== 200 || res.truncated, 'either refused or visibly truncated, never a complete 200');
  });

  t.test('an upstream whose certificate is not signed by the configured CA → 502, never forwarded in clear', async (t) => {
    const pki = await testPki();
    const origin = await startOrigin({ cert: pki.serverCert, key: pki.serverKey });
    t.teardown(() => origin.close());
    const url = origin.url.replace('127.0.0.1', 'localhost');
    const untrusted = await startTestGateway(t, { upstreams: { origin: { url } }, routes: basicRoutes() });
    const refused = await rawHttps(untrusted.port, get('/api/customers/1', auth), { ca: untrusted.ca });
    t.equal(refused.status, 502);
    t.equal(JSON.parse(refused.body).error.code, 'CUSTODIAN_UPSTREAM_TLS');
    t.equal(origin.seen.length, 0);

    const trusted = await startTestGateway(t, { upstreams: { origin: { url, ca: pki.caCert } }, routes: basicRoutes() });
    const ok = await rawHttps(trusted.port, get('/api/customers/1', auth), { ca: trusted.ca });
    t.equal(ok.status, 200, 'verified against the configured CA');
    t.equal(origin.seen.length, 1);
  });
});

t.test('forwardAuthorization: true passes the client Authorization through', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true, forwardAuthorization: true } },
    routes: basicRoutes(),
  });
  await rawHttps(gw.port, get('/api/customers/1', auth), { ca: gw.ca });
  t.equal(origin.seen[0]?.headers.authorization, auth[0]?.slice('Authorization: '.length));
});

t.test('request bodies reach the upstream byte for byte, whatever their type and framing', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes: basicRoutes() });
  const post = (headers: string[], body: string) =>
    rawHttps(gw.port, ['POST /api/customers HTTP/1.1', 'Host: localhost', ...auth, ...headers, 'Connection: close', '', body].join('\r\n'), { ca: gw.ca });
  // JSON a parser would rewrite (spacing, key order, a duplicate key, an escaped character).
  const json = '{ "b":1,  "a":"\\u0041", "a":2 }';
  const cases: { name: string; headers: string[]; body: string; expected: string }[] = [
    { name: 'JSON', headers: ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(json)}`], body: json, expected: json },
    { name: 'a form', headers: ['Content-Type: application/x-www-form-urlencoded', 'Content-Length: 15'], body: 'a=1&b=%E4%B8%AD', expected: 'a=1&b=%E4%B8%AD' },
    { name: 'no type', headers: ['Content-Length: 3'], body: 'xyz', expected: 'xyz' },
    { name: 'chunked', headers: ['Content-Type: text/plain', 'Transfer-Encoding: chunked'], body: '4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n', expected: 'abcdefg' },
  ];
  for (const c of cases) {
    const before = origin.seen.length;
    const res = await post(c.headers, c.body);
    t.equal(res.status, 200, c.name);
    t.equal(origin.seen.length, before + 1, `${c.name}: forwarded once`);
    t.equal(origin.seen.at(-1)?.body, c.expected, `${c.name}: the bytes the client sent`);
  }
});

t.test('a client that asks to be told to continue is told, and its body forwarded', async (t) => {
  // curl sends `Expect: 100-continue` with every body over 1 KB; the gateway answers it itself.
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, routes: basicRoutes() });
  const body = JSON.stringify({ note: 'x'.repeat(2000) });
  const { request: httpsRequest } = await import('node:https');
  const result = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
    let continued = false;
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: gw.port,
        method: 'POST',
        path: '/api/customers',
        ca: gw.ca,
        servername: 'localhost',
        headers: { ...Object.fromEntries(auth.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)])), 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, continued }));
      },
    );
    req.on('continue', () => {
      continued = true;
      req.end(body);
    });
    req.on('error', reject);
  });
  t.ok(result.continued, '100 Continue came back');
  t.equal(result.status, 200);
  t.equal(origin.seen.at(-1)?.body, body);
  t.notOk(origin.seen.at(-1)?.headers.expect, 'the expectation was met here, not passed on');
});
