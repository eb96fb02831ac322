import { readFileSync } from 'node:fs';
import t from 'tap';
import Fastify from 'fastify';
import { customer } from '../src/demo/dataset.js';
import { CustodianError, errorCodes, statusOf } from '../src/errors.js';
import { handleError } from '../src/http/errors.js';
import { createLogger } from '../src/logging.js';

t.test('every error code is documented in the README with its status', async (t) => {
  const readme = readFileSync('README.md', 'utf8');
  for (const code of errorCodes) {
    const row = readme.split('\n').find((line) => line.startsWith('|') && line.includes(`\`${code}\``));
    t.ok(row, `${code} is in README.md`);
    t.match(row ?? '', new RegExp(`\\|\\s*${statusOf(code)}\\s*\\|`), `${code} row shows status ${statusOf(code)}`);
  }
});

// Through the real error handler and logger: a wrapped library error whose message and extra
// properties carry a customer record (as undici's parser errors do in `data`) reaches neither the
// client nor the log. (The earlier version only checked errorBody, which cannot see a cause.)
t.test('a wrapped error: the client sees the catalogue message, the log sees no upstream bytes', async (t) => {
  const id = customer(3).idNumber;
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(s) } });
  const app = Fastify({ loggerInstance: logger });
  app.decorateRequest('custodian', null as never);
  app.setErrorHandler(handleError);
  const library = Object.assign(new Error(`Parse Error near ${id}`), { code: 'HPE_INVALID', data: `{"idNumber":"${id}"}` });
  app.get('/wrapped', async () => {
    throw new CustodianError('CUSTODIAN_UPSTREAM_ERROR', { cause: library });
  });
  app.get('/raw', async () => {
    throw library;
  });
  for (const path of ['/wrapped', '/raw']) {
    const res = await app.inject({ method: 'GET', url: path });
    const body = res.json() as { error: Record<string, string> };
    t.same(Object.keys(body.error).sort(), ['code', 'message', 'requestId'], `${path}: the stable shape`);
    t.notOk(res.body.includes(id), `${path}: no value in the response`);
  }
  logger.error(library);
  logger.warn({ err: library }, 'upstream failure');
  t.ok(lines.length >= 3, 'the errors were logged');
  t.notOk(lines.join('').includes(id), 'no clear ID number in any log line');
  t.notOk(lines.join('').includes('"data"'), "an error's extra properties are not logged");
  t.match(lines.join(''), /HPE_INVALID/, 'the code is');
  await app.close();
});
