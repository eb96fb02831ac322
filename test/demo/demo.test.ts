import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { startDemo } from '../../src/demo/run.js';
import { silentLogger } from '../../src/logging.js';
import { tempDir } from '../helpers/gateway.js';

const exec = promisify(execFile);

t.test('the demo: every printed curl line does what its comment says', async (t) => {
  const varDir = tempDir(t, 'custodian-demo-');
  const demo = await startDemo({ varDir, ephemeralPorts: true, logger: silentLogger() });
  t.teardown(() => demo.close());

  const tokens = JSON.parse(readFileSync(join(varDir, 'demo-tokens.json'), 'utf8'));
  t.same(Object.keys(tokens).sort(), ['auditor', 'collector', 'credit_officer', 'cs_agent', 'partner', 'risk_analyst', 'training_lapsed']);
  for (const [name, token] of Object.entries(tokens)) {
    t.match(demo.instructions, `${name.toUpperCase()}=${token}`, `${name} token printed`);
  }

  const lines = demo.instructions.split('\n').map((l) => l.trim());
  const source = lines.find((l) => l.startsWith('source '));
  t.ok(source, 'prints how to load the tokens');
  const examples: { expect: string; command: string }[] = [];
  lines.forEach((line, i) => {
    if (line.startsWith('# expect ')) examples.push({ expect: line.slice('# expect '.length), command: lines[i + 1] ?? '' });
  });
  t.ok(examples.length >= 10, 'allowed and refused examples');
  t.ok(examples.some((e) => e.expect.startsWith('200')) && examples.some((e) => e.expect.startsWith('403')));

  for (const { expect, command } of examples) {
    t.match(command, /^curl /);
    const [status, code] = expect.split(' ');
    const script = `${source}\n${command} -s -w '\\n%{http_code}'`;
    const { stdout } = await exec('bash', ['-c', script], { cwd: process.cwd() });
    const body = stdout.slice(0, stdout.lastIndexOf('\n'));
    const httpCode = stdout.slice(stdout.lastIndexOf('\n') + 1);
    t.equal(httpCode, status, `${command.slice(0, 140)} → ${status}`);
    if (code?.startsWith('CUSTODIAN_')) t.equal(JSON.parse(body).error.code, code, code);
    if (status === '200') t.match(JSON.parse(body), Object, 'JSON from the demo loan API through the proxy');
  }
});
