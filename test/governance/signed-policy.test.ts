import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { listSegments } from '../../src/audit/segments.js';
import { loadConfig } from '../../src/config/load.js';
import { signPolicyFile } from '../../src/config/signature.js';
import { silentLogger } from '../../src/logging.js';
import { startGateway } from '../../src/server.js';
import { basicRoutes, writeTestConfig } from '../helpers/gateway.js';
import { startOrigin } from '../helpers/origin.js';
import { testDb } from '../helpers/store.js';

const run = promisify(execFile);
const keyPair = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
};
const officer = keyPair();
const stranger = keyPair();

async function setup(t: Parameters<typeof writeTestConfig>[0]) {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const written = await writeTestConfig(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: basicRoutes(),
    policy: { requireSignature: true, trustAnchors: 'officers.pem' },
  });
  writeFileSync(join(written.dir, 'officers.pem'), `# id: officer.zhang\n${officer.publicPem}`);
  return written;
}

t.test('a policy must be signed by an officer trust anchor: refused unsigned, modified, or signed by another key', async (t) => {
  const { file, dir } = await setup(t);
  const startWithDb = async () => {
    const g = await startGateway(loadConfig(file), { logger: silentLogger(), varDir: join(dir, 'var'), db: await testDb() });
    t.teardown(() => g.close());
    return g;
  };
  await t.rejects(startWithDb(), /not signed/, 'unsigned: refused at start');

  await signPolicyFile(file, stranger.privatePem, 'officer.zhang');
  await t.rejects(startWithDb(), /not valid under any officer trust anchor/, 'signed by a non-officer key');

  await signPolicyFile(file, officer.privatePem, 'officer.zhang');
  const sig = readFileSync(`${file}.sig`, 'utf8');
  writeFileSync(`${file}.sig`, `${sig.slice(0, -10)}AAAAAAAAA\n`);
  await t.rejects(startWithDb(), /not valid/, 'tampered signature');

  await signPolicyFile(file, officer.privatePem, 'officer.zhang');
  writeFileSync(file, `${readFileSync(file, 'utf8')}# a comment added later\n`);
  await t.rejects(startWithDb(), /modified after officer.zhang signed it/, 'modified after signing');

  await signPolicyFile(file, officer.privatePem, 'officer.zhang');
  const gw = await startWithDb();
  const versions = await gw.db.query<{ signer: string; digest: string }>('SELECT signer, digest FROM policy_versions WHERE instance_id = $1', [gw.audit.journal.instance]);
  t.match(versions.rows, [{ signer: 'officer.zhang', digest: gw.policy.current.config.digest }], 'the loaded version is stored with its signer');

  // Reload: an unsigned change is refused and the running policy stays; a signed one is applied.
  const before = gw.policy.current.version;
  const changed = parse(readFileSync(file, 'utf8'));
  changed.purposes[0].roles = [];
  writeFileSync(file, stringify(changed));
  t.match(await gw.reload(), { ok: false, errors: [/modified after officer.zhang signed it/] });
  t.equal(gw.policy.current.version, before);
  await signPolicyFile(file, officer.privatePem, 'officer.zhang');
  t.match(await gw.reload(), { ok: true });
  t.not(gw.policy.current.version, before);

  const journal = (await listSegments(join(dir, 'var', 'audit')))
    .flatMap((s) => readFileSync(s.file, 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l).record)
    .filter((r) => r.type === 'policy');
  t.match(journal, [
    { detail: { event: 'loaded', signer: 'officer.zhang', version: before } },
    { detail: { event: 'reloaded', signer: 'officer.zhang', previous: before } },
  ], 'every policy change is an audit record');
});

t.test('custodian policy sign and custodian check', async (t) => {
  const { file, dir } = await setup(t);
  const keyFile = join(dir, 'officer-key.pem');
  writeFileSync(keyFile, officer.privatePem);
  const cli = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/index.ts', ...args]).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
  t.match(await cli(['check', '--allow-warnings', '-c', file]), { code: 1, out: /not signed/ });
  t.match(await cli(['policy', 'sign', '-c', file, '--key', keyFile, '--signer', 'officer.zhang']), { code: 0, out: /signed .* as officer.zhang/ });
  t.match(await cli(['check', '--allow-warnings', '-c', file]), { code: 0, out: /signed by officer.zhang/ });
});
