import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { ConfigError } from '../../src/config/issues.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { tempDir } from '../helpers/gateway.js';

const run = promisify(execFile);

const valid = `
mode: demo
upstreams:
  loans:
    url: http://127.0.0.1:9700
    allowPlaintext: true
routes:
  - id: customers.detail
    method: GET
    path: /api/customers/:id
    upstream: loans
`;

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}) {
  try {
    parseConfig('/etc/custodian/test.yaml', text, { env });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

t.test('a valid file loads, gets its defaults and is frozen', async (t) => {
  const config = parseConfig('/etc/custodian/test.yaml', valid, { env: {} });
  t.equal(config.listen.data.port, 8443);
  t.equal(config.listen.admin.host, '127.0.0.1');
  t.equal(config.listen.admin.port, 9464);
  t.equal(config.listen.plaintext, undefined);
  t.equal(config.tls.minVersion, 'TLSv1.2');
  t.ok(Object.isFrozen(config));
  t.ok(Object.isFrozen(config.routes[0]));
  t.throws(() => (config.upstreams as Map<string, unknown>).set('x', {}), /frozen/);
  t.throws(() => {
    (config.routes as unknown as unknown[]).push({});
  });
});

t.test('malformed YAML is reported with its line', async (t) => {
  const issues = issuesOf('upstreams:\n  loans:\n    url: "http://x\nroutes: [\n');
  t.ok(issues.length >= 1);
  t.ok(issues.every((i) => i.line > 0));
  const dup = issuesOf(`${valid}\nmode: production\n`);
  t.match(dup[0]?.message, /unique|duplicate/i, 'duplicate keys are an error, not last-one-wins');
});

t.test('every schema error is reported at once, each with its line and path', async (t) => {
  const text = `mode: demo
upstreams:
  loans:
    url: http://127.0.0.1:9700
    allowPlaintext: true
    colour: blue
routes:
  - id: customers.detail
    method: FETCH
    path: /api/customers/:id
    upstream: loans
  - id: Bad Id
    method: GET
    path: /x
    upstream: loans
    extra: 1
listne: {}
`;
  const issues = issuesOf(text);
  const byPath = Object.fromEntries(issues.map((i) => [i.path, i]));
  t.equal(byPath['/upstreams/loans/colour']?.line, 6, 'unknown nested key, at its line');
  t.match(byPath['/upstreams/loans/colour']?.message, /unknown key "colour"/);
  t.equal(byPath['/routes/0/method']?.line, 9, 'bad enum value');
  t.equal(byPath['/routes/1/id']?.line, 12, 'bad identifier');
  t.equal(byPath['/routes/1/extra']?.line, 16);
  t.equal(byPath['/listne']?.line, 17, 'misspelt top-level key');
  t.ok(issues.every((i) => i.file === '/etc/custodian/test.yaml'));
});

t.test('semantic errors: missing upstream, duplicate ids, overlapping routes, unsafe plaintext', async (t) => {
  const text = `mode: demo
upstreams:
  loans:
    url: http://127.0.0.1:9700
    allowPlaintext: true
  remote:
    url: http://10.0.0.5:80
    allowPlaintext: true
  quiet:
    url: http://127.0.0.1:9701
routes:
  - id: a
    method: GET
    path: /api/customers/:id
    upstream: loans
  - id: a
    method: GET
    path: /api/loans/:id
    upstream: loans
  - id: b
    method: [GET, POST]
    path: /api/customers/export
    upstream: loans
  - id: c
    method: GET
    path: /api/other
    upstream: nowhere
`;
  const issues = issuesOf(text);
  const messages = issues.map((i) => `${i.line} ${i.path} ${i.message}`);
  t.ok(messages.some((m) => /^27 \/routes\/3\/upstream unknown upstream "nowhere"/.test(m)), 'missing upstream');
  t.ok(messages.some((m) => /^16 \/routes\/1\/id duplicate route id "a"/.test(m)), 'duplicate id');
  t.ok(
    messages.some((m) => /^22 \/routes\/2\/path route "b" overlaps route "a"/.test(m)),
    'overlap names both routes',
  );
  t.ok(messages.some((m) => /upstreams\/remote\/url .*loopback/.test(m)), 'plaintext to a non-loopback host refused');
  t.ok(messages.some((m) => /upstreams\/quiet\/url .*allowPlaintext/.test(m)), 'plaintext needs explicit opt-in');
  t.equal(issues.length, 5, 'all five reported together');
});

t.test('production mode needs a certificate; secrets come from env or files, never echoed', async (t) => {
  const prod = valid.replace('mode: demo', 'mode: production');
  const prodIssues = issuesOf(prod).map((i) => i.message);
  t.ok(prodIssues.some((m) => /tls.cert and tls.key are required outside demo mode/.test(m)), 'a certificate');
  t.ok(prodIssues.some((m) => /audit.checkpoint.key .* is required outside demo mode/.test(m)), 'a checkpoint signing key');
  t.ok(prodIssues.some((m) => /production mode requires a signed policy/.test(m)), 'a signed policy');

  const dir = tempDir(t);
  writeFileSync(join(dir, 'cert.pem'), 'CERT');
  const withSecrets = `${prod}\ntls:\n  cert: { file: cert.pem }\n  key: { env: CUSTODIAN_TLS_KEY }\naudit:\n  checkpoint: { key: { env: CUSTODIAN_CHECKPOINT_KEY } }\npolicy:\n  requireSignature: false\n`;
  const file = join(dir, 'c.yaml');
  writeFileSync(file, withSecrets);
  const config = loadConfig(file, { env: { CUSTODIAN_TLS_KEY: 'KEY-MATERIAL', CUSTODIAN_CHECKPOINT_KEY: 'PEM' } });
  t.equal(config.tls.cert, 'CERT');
  t.equal(config.tls.key, 'KEY-MATERIAL');

  const missing = `${prod}\ntls:\n  cert: { file: absent.pem }\n  key: { env: NOT_SET_ANYWHERE }\n`;
  const issues = issuesOf(missing);
  t.match(issues.map((i) => i.message).join('\n'), /NOT_SET_ANYWHERE is not set/);
  t.match(issues.map((i) => i.message).join('\n'), /cannot read file .*absent\.pem \(ENOENT\)/);
});

t.test('the shipped demo configuration is valid', async (t) => {
  const config = loadConfig('config/demo.yaml');
  t.equal(config.mode, 'demo');
  t.equal(config.listen.data.port, 8443);
  t.equal(config.listen.plaintext?.port, 8080);
  t.equal(config.listen.admin.port, 9464);
});

t.test('custodian check: exit 0 on the demo, non-zero listing every error with its line', async (t) => {
  const ok = await run(process.execPath, ['--import', 'tsx', 'src/index.ts', 'check', '-c', 'config/demo.yaml']);
  t.match(ok.stdout, /OK/);
  const dir = tempDir(t);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'upstreams:\n  loans:\n    url: ftp://x\nroutes:\n  - id: a\n    method: GET\n    path: /a\n    upstream: none\nbogus: 1\npolicy:\n  requireSignature: false\n');
  const failed = await run(process.execPath, ['--import', 'tsx', 'src/index.ts', 'check', '-c', bad]).then(
    () => undefined,
    (err: { code: number; stdout: string }) => err,
  );
  t.ok(failed, 'exits non-zero');
  t.equal(failed?.code, 1);
  t.match(failed?.stdout, /bad\.yaml:3:\d+ \/upstreams\/loans\/url/);
  t.match(failed?.stdout, /bad\.yaml:9:\d+ \/bogus: unknown key "bogus"/);
  t.match(failed?.stdout, /2 error\(s\)/);
});

t.test('custodian serve refuses to start on a bad file (no partial start)', async (t) => {
  const dir = tempDir(t);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'routes: []\n');
  const failed = await run(process.execPath, ['--import', 'tsx', 'src/index.ts', 'serve', '-c', bad], { timeout: 20_000 }).then(
    () => undefined,
    (err: { code: number; stderr: string }) => err,
  );
  t.equal(failed?.code, 1);
  t.match(failed?.stderr, /refusing to start/);
});
