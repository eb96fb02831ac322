import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { tempDir } from '../helpers/gateway.js';

const run = promisify(execFile);

const policy = `mode: demo
upstreams: { loans: { url: "http://127.0.0.1:9700", allowPlaintext: true } }
auth:
  issuers:
    - { id: idp, issuer: "https://idp", audience: c, algorithms: [ES256], keys: [{ key: "unused" }] }
purposes:
  - { id: nobody, description: d, lawfulBasis: contract, roles: [], approvedBy: o, reviewUntil: "2099-01-01" }
  - { id: expired, description: d, lawfulBasis: contract, roles: [credit_officer], approvedBy: o, reviewUntil: "2020-01-01" }
  - { id: live, description: d, lawfulBasis: contract, roles: [credit_officer], approvedBy: o, reviewUntil: "2099-01-01" }
  - { id: orphan, description: d, lawfulBasis: contract, roles: [credit_officer], approvedBy: o, reviewUntil: "2099-01-01" }
classification:
  fields:
    mobile: { class: C2, operator: { mask: mobile } }
    remarks: { class: C1 }
routes:
  - { id: open, method: GET, path: /a, upstream: loans, purposes: [live, nobody] }
  - { id: leaky, method: GET, path: /d, upstream: loans, purposes: [live], unknownFields: keep, detectors: false, views: { live: { fields: { mobil: keep } } } }
  - { id: closed, method: GET, path: /b, upstream: loans }
  - { id: dead, method: GET, path: /c, upstream: loans, purposes: [expired] }
`;

t.test('custodian check reports purposes nobody can use and routes no purpose can use, with lines', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, policy);
  const result = await run(process.execPath, ['--import', 'tsx', 'src/index.ts', 'check', '-c', file]).then(
    () => ({ code: 0, stdout: '' }),
    (err: { code: number; stdout: string }) => err,
  );
  t.equal(result.code, 1, 'warnings fail the check');
  const out = result.stdout;
  t.match(out, /policy\.yaml:7:\d+ \/purposes\/0: purpose "nobody" names no roles: nobody can use it/);
  t.match(out, /policy\.yaml:8:\d+ \/purposes\/1\/reviewUntil: purpose "expired" review expired on 2020-01-01/);
  t.match(out, /policy\.yaml:10:\d+ \/purposes\/3: purpose "orphan" is not allowed on any route/);
  t.match(out, /policy\.yaml:18:\d+ \/routes\/2: route "closed" allows no purpose/);
  t.match(out, /policy\.yaml:19:\d+ \/routes\/3\/purposes: route "dead": no purpose it allows is usable/);
  t.match(out, /policy\.yaml:17:\d+ \/routes\/1\/views\/live\/fields\/mobil: view names "mobil", which the dictionary does not classify/);
  t.match(out, /\/routes\/1\/detectors: route "leaky" turns detectors off but releases free text/);
  t.match(out, /\/routes\/1\/unknownFields: route "leaky" keeps unknown fields while the dictionary has C2 data/);
  t.notMatch(out, /route "open"/, 'a route with one live purpose is fine');

  const allowed = await run(process.execPath, ['--import', 'tsx', 'src/index.ts', 'check', '--allow-warnings', '-c', file]);
  t.match(allowed.stdout, /8 warning\(s\)/);
});
