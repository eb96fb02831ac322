import { readFileSync } from 'node:fs';
import t from 'tap';
import { CustodianError, errorBody, errorCodes, statusOf } from '../src/errors.js';

t.test('every error code is documented in the README with its status', async (t) => {
  const readme = readFileSync('README.md', 'utf8');
  for (const code of errorCodes) {
    const row = readme.split('\n').find((line) => line.startsWith('|') && line.includes(`\`${code}\``));
    t.ok(row, `${code} is in README.md`);
    t.match(row ?? '', new RegExp(`\\|\\s*${statusOf(code)}\\s*\\|`), `${code} row shows status ${statusOf(code)}`);
  }
});

t.test('error bodies have the stable shape and never carry the cause text', async (t) => {
  const err = new CustodianError('CUSTODIAN_UPSTREAM_ERROR', { cause: new Error('secret 110101199003071234') });
  t.equal(err.status, 502);
  const body = errorBody(err.code, 'req-1');
  t.same(Object.keys(body.error).sort(), ['code', 'message', 'requestId']);
  t.notMatch(JSON.stringify(body), /110101/);
});
