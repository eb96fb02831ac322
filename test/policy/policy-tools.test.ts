import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { runExplain } from '../../src/cli/explain.js';
import { parseConfig } from '../../src/config/load.js';
import { tempDir, testKey } from '../helpers/gateway.js';
import { AUDIENCE, ISSUER, mint } from '../helpers/tokens.js';

const run = promisify(execFile);
const cli = (args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'src/index.ts', ...args]).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
  );

t.test('custodian test: the shipped demo policy tests pass', async (t) => {
  const result = await cli(['test', 'config/policy-tests.yaml']);
  t.equal(result.code, 0);
  t.match(result.stdout, /# 16 passed, 0 failed/);
  t.notMatch(result.stdout, /not ok/);
});

t.test('custodian test: a wrong expectation fails and says what differs', async (t) => {
  const dir = tempDir(t);
  const spec = parse(readFileSync('config/policy-tests.yaml', 'utf8'));
  spec.config = join(process.cwd(), 'config/demo.yaml');
  spec.tests[1].expect.view.mobile = '13812345678'; // claims customer service sees the clear mobile
  spec.tests[3].expect.decision = 'allow'; // claims the wrong purpose is allowed
  const file = join(dir, 'tests.yaml');
  writeFileSync(file, stringify(spec));
  const result = await cli(['test', file]);
  t.equal(result.code, 1);
  t.match(result.stdout, /not ok 2 - customer service sees the same customer masked\n {2}# view differs at \$\.mobile\n/);
  t.notMatch(result.stdout, /13812345678/, 'where the view differs, never the clear value');
  t.match(result.stdout, /not ok 4 - .*\n {2}# decision: expected allow, got deny \(CUSTODIAN_PURPOSE_NOT_ALLOWED\)/);
  t.match(result.stdout, /# 14 passed, 2 failed/);
});

t.test('custodian explain: route, decision, reason and the field-by-field view', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'k.pem'), testKey.publicPem);
  const config = parseConfig(
    join(dir, 'c.yaml'),
    stringify({
      mode: 'demo',
      upstreams: { u: { url: 'http://127.0.0.1:1', allowPlaintext: true } },
      auth: { issuers: [{ id: 'i', issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], keys: [{ kid: testKey.kid, key: { file: 'k.pem' } }] }] },
      purposes: [{ id: 'customer_service', description: 'd', lawfulBasis: 'contract', roles: ['cs_agent'], approvedBy: 'o', reviewUntil: '2099-01-01' }],
      classification: { fields: { id: { class: 'public' }, mobile: { class: 'C2', operator: { mask: 'mobile' } } } },
      routes: [{ id: 'detail', method: 'GET', path: '/c/:id', upstream: 'u', purposes: ['customer_service'] }],
    }),
    { env: {} },
  );
  const body = join(dir, 'body.json');
  writeFileSync(body, JSON.stringify({ id: 1, mobile: '13812345678', secretNote: 'x' }));
  const lines: string[] = [];
  const token = await mint(testKey, { roles: ['cs_agent'] });
  t.equal(await runExplain(config, { method: 'GET', path: '/c/1', purpose: 'customer_service', token, body }, (l) => lines.push(l)), 0);
  const text = lines.join('\n');
  t.match(text, /route: +detail/);
  t.match(text, /decision: +ALLOW OK/);
  t.match(text, /\$\.mobile +C2 +masked/);
  t.match(text, /\$\.secretNote +unknown dropped/);
  t.match(text, /"mobile": "138\*\*\*\*5678"/);
  t.notMatch(text, /13812345678|eyJ/, 'neither the clear value nor the token is printed');

  const refused: string[] = [];
  await runExplain(config, { method: 'GET', path: '/c/1', purpose: 'marketing', claims: JSON.stringify({ sub: 'x', roles: ['cs_agent'] }) }, (l) => refused.push(l));
  t.match(refused.join('\n'), /decision: +DENY CUSTODIAN_PURPOSE_UNKNOWN/);
});
