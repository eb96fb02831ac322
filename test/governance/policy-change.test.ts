import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { request } from 'undici';
import { parse, stringify } from 'yaml';
import { signPolicyBytes, signPolicyFile } from '../../src/config/signature.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logging.js';
import { type RunningGateway, startGateway } from '../../src/server.js';
import { listPolicyVersions, policyTextOf } from '../../src/store/policy-versions.js';
import { basicRoutes, testKey, writeTestConfig } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { type Origin, startOrigin } from '../helpers/origin.js';
import { testDb } from '../helpers/store.js';
import { mint } from '../helpers/tokens.js';

/**
 * Policy changes a security team can trust: the team's policy tests gate every load (check,
 * start, SIGHUP, admin API), each change's impact on what people see is worked out and kept with
 * the version, versions are kept whole, and under four-eyes a revealing change needs a second
 * officer's signature.
 */
const run = promisify(execFile);
const cli = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  run(process.execPath, ['--import', 'tsx', 'src/index.ts', ...args], { encoding: 'utf8' }).then(
    (r) => ({ code: 0, ...r }),
    (err: { code: number; stdout: string; stderr: string }) => err,
  );

const keyPair = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
};
const zhang = keyPair();
const wang = keyPair();

const CUSTOMER = { id: 7, name: '欧阳娜娜', idNumber: '110101199003071233', mobile: '13812345678', remarks: '回电13912345678' };
const MASKED = { id: 7, name: '欧阳**', idNumber: '1101**********1233', mobile: '138****5678', remarks: '回电139****5678' };

const classification = {
  fields: {
    id: { class: 'public' },
    name: { class: 'C2', operator: { mask: 'name' } },
    idNumber: { class: 'C2', operator: { mask: 'resident_id' } },
    mobile: { class: 'C2', operator: { mask: 'mobile' } },
    remarks: { class: 'C1' },
  },
};

/** The team's expectation: customer service sees this customer masked. */
const POLICY_TESTS = {
  now: '2030-01-01T00:00:00Z',
  tests: [
    {
      name: 'customer service sees the customer masked',
      request: { method: 'GET', path: '/api/customers/7' },
      claims: { sub: 'agent-1', kind: 'staff', roles: ['cs_agent'], attestations: { training: 4102444800 } },
      purpose: 'customer_service',
      upstreamBody: CUSTOMER,
      expect: { decision: 'allow', view: MASKED },
    },
  ],
};

async function origin(t: Parameters<typeof writeTestConfig>[0]): Promise<Origin> {
  const o = await startOrigin();
  t.teardown(() => o.close());
  o.handle((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(CUSTOMER)));
  return o;
}

/** A production policy with policy tests, signed by officer.zhang unless `unsigned`. */
async function signedPolicy(t: Parameters<typeof writeTestConfig>[0], o: Origin, policy: Record<string, unknown> = {}) {
  const written = await writeTestConfig(t, {
    upstreams: { origin: { url: o.url, allowPlaintext: true } },
    routes: basicRoutes(),
    classification,
    policy: { trustAnchors: 'officers.pem', ...policy },
    policyTests: ['policy-tests.yaml'],
  });
  writeFileSync(join(written.dir, 'officers.pem'), `# id: officer.zhang\n${zhang.publicPem}\n# id: officer.wang\n${wang.publicPem}`);
  writeFileSync(join(written.dir, 'policy-tests.yaml'), stringify(POLICY_TESTS));
  await signPolicyFile(written.file, zhang.privatePem, 'officer.zhang');
  return written;
}

async function start(t: Parameters<typeof writeTestConfig>[0], file: string, dir: string): Promise<RunningGateway & { port: number }> {
  const g = await startGateway(loadConfig(file), { logger: silentLogger(), varDir: join(dir, 'var'), db: await testDb() });
  t.teardown(() => g.close());
  return { ...g, port: Number(new URL(g.dataUrl).port) };
}

/** The edit the security officer tried: customer service gets C2 in clear. */
function revealC2(file: string): void {
  const config = parse(readFileSync(file, 'utf8'));
  config.routes[0].views = { customer_service: { classes: { C2: 'keep' } } };
  writeFileSync(file, stringify(config));
}

async function agentView(g: { port: number }, ca: string) {
  const token = await mint(testKey, { sub: 'agent-1', roles: ['cs_agent'] });
  const res = await rawHttps(g.port, get('/api/customers/7', [`Authorization: Bearer ${token}`, 'X-Purpose: customer_service']), { ca });
  return { status: res.status, body: JSON.parse(res.body) as unknown };
}

t.test('C2: keep for customer service is refused at check, at start and at reload; the running policy stays and says why', async (t) => {
  const o = await origin(t);
  const { file, dir, ca } = await signedPolicy(t, o);
  const gw = await start(t, file, dir);
  t.same((await agentView(gw, ca)).body, MASKED, 'before: the agent sees the customer masked');
  const original = readFileSync(file, 'utf8');

  revealC2(file);
  await signPolicyFile(file, zhang.privatePem, 'officer.zhang');

  // check: refused, naming the failing case and where the view differs — never the values.
  const checked = await cli(['check', '-c', file]);
  t.equal(checked.code, 1, 'custodian check exits 1');
  t.match(checked.stdout, /policy test failed: .*"customer service sees the customer masked": view differs at \$\.name, \$\.idNumber, \$\.mobile/);
  t.notMatch(checked.stdout, /110101199003071233|13812345678|欧阳娜娜/, 'no clear value in the output');

  // start: a gateway does not come up with it.
  await t.rejects(start(t, file, join(dir, 'second')), /policy test failed/, 'refused at start');

  // reload: refused; the running policy stays and serves masked views.
  const metricsBefore = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  t.match(metricsBefore, /custodian_policy_last_reload_success 1/);
  const result = await gw.reload();
  t.equal(result.ok, false, 'reload refused');
  t.match(result, { errors: [/policy test failed/] });
  t.match(result.impact.join('\n'), /REVEALS {2}route customers\.detail · purpose customer_service: idNumber, mobile, name \(C2\) masked → clear/, 'the impact says what would have been revealed');
  t.same((await agentView(gw, ca)).body, MASKED, 'after the refused reload: still masked');
  t.equal(o.seen.length, 2, 'the origin answered the two agent requests only');
  const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  t.match(metrics, /custodian_policy_last_reload_success 0/, 'the metric says the reload failed');
  const ready = (await (await request(`${gw.adminUrl}/readyz`)).body.json()) as { config: { lastReload: { ok: boolean; errors: string[] } } };
  t.match(ready.config.lastReload, { ok: false, errors: [/policy test failed/] }, '/readyz says why');

  writeFileSync(file, original);
  await signPolicyFile(file, zhang.privatePem, 'officer.zhang');
  t.match(await gw.reload(), { ok: true, impact: ['no change to what anyone sees'] }, 'the original is admitted again');
});

t.test('four-eyes: a revealing change needs a second officer; a narrowing one does not', async (t) => {
  const o = await origin(t);
  const { file, dir, ca } = await signedPolicy(t, o, { fourEyes: true });
  const tests = parse(readFileSync(join(dir, 'policy-tests.yaml'), 'utf8'));
  const gw = await start(t, file, dir);

  // Reveal the mobile to customer service, and update the team's test to expect it.
  const config = parse(readFileSync(file, 'utf8'));
  config.routes[0].views = { customer_service: { fields: { mobile: 'keep' } } };
  writeFileSync(file, stringify(config));
  tests.tests[0].expect.view = { ...MASKED, mobile: CUSTOMER.mobile };
  writeFileSync(join(dir, 'policy-tests.yaml'), stringify(tests));
  await signPolicyFile(file, zhang.privatePem, 'officer.zhang');
  const alone = await gw.reload();
  t.match(alone, { ok: false, errors: [/four-eyes: this change reveals data .* second officer's signature besides officer\.zhang's/] }, 'one signature is not enough');
  t.same((await agentView(gw, ca)).body, MASKED, 'the running policy stays');

  await t.rejects(signPolicyFile(file, zhang.privatePem, 'officer.zhang', { cosign: true }), /already signed/, 'the editor cannot co-sign their own change');
  await signPolicyFile(file, wang.privatePem, 'officer.wang', { cosign: true });
  const both = await gw.reload();
  t.match(both, { ok: true, impact: [/REVEALS {2}route customers\.detail · purpose customer_service: mobile \(C2\) masked → clear/] });
  t.same((await agentView(gw, ca)).body, { ...MASKED, mobile: CUSTOMER.mobile }, 'the co-signed change serves');

  // Narrowing back needs one signature.
  config.routes[0].views = {};
  writeFileSync(file, stringify(config));
  tests.tests[0].expect.view = MASKED;
  writeFileSync(join(dir, 'policy-tests.yaml'), stringify(tests));
  await signPolicyFile(file, zhang.privatePem, 'officer.zhang');
  t.match(await gw.reload(), { ok: true, impact: [/NARROWS {2}.*mobile \(C2\) clear → masked/] });

  const versions = await listPolicyVersions(gw.db);
  const mine = versions.filter((v) => v.instance === gw.audit.journal.instance);
  t.match(mine[1], { signer: 'officer.zhang', cosigners: ['officer.wang'], revealing: true, loadedBy: 'reload (SIGHUP)' }, 'the revealing version is kept with both signers and its impact');
});

t.test('reload through the admin API: officer only, signed text in, impact out, written to the file and recorded', async (t) => {
  const o = await origin(t);
  const { file, dir, ca } = await signedPolicy(t, o);
  const gw = await start(t, file, dir);
  const officer = await mint(testKey, { sub: 'officer.li', roles: ['information_officer'] });
  const agent = await mint(testKey, { sub: 'agent-1', roles: ['cs_agent'] });
  const post = (token: string, body: unknown) =>
    request(`${gw.adminUrl}/admin/policy`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.statusCode, body: (await r.body.json()) as Record<string, unknown> }));

  const config = parse(readFileSync(file, 'utf8'));
  config.purposes[1].roles = ['cs_agent', 'cs_supervisor'];
  const text = stringify(config);
  const { jws } = await signPolicyBytes(Buffer.from(text), zhang.privatePem, 'officer.zhang');

  t.equal((await post(agent, { policy: text, signatures: [jws] })).status, 403, 'an agent may not load a policy');
  const unsigned = await post(officer, { policy: text });
  t.equal(unsigned.status, 422);
  t.match(unsigned.body, { error: { code: 'CUSTODIAN_POLICY_REFUSED' }, errors: [/not signed/] });
  const revealing = stringify({ ...config, routes: [{ ...config.routes[0], views: { customer_service: { classes: { C2: 'keep' } } } }, ...config.routes.slice(1)] });
  const refused = await post(officer, { policy: revealing, signatures: [(await signPolicyBytes(Buffer.from(revealing), zhang.privatePem, 'officer.zhang')).jws] });
  t.match(refused, { status: 422, body: { errors: [/policy test failed/], impact: [/REVEALS/] } }, 'the team\'s tests gate the admin API too');
  t.not(readFileSync(file, 'utf8'), revealing, 'a refused policy is not written');

  const admitted = await post(officer, { policy: text, signatures: [jws] });
  t.equal(admitted.status, 200);
  t.match(admitted.body, { version: createHash('sha256').update(text).digest('hex').slice(0, 12), impact: ['WIDENS   purpose customer_service: roles added: cs_supervisor'] });
  t.equal(readFileSync(file, 'utf8'), text, 'the file is now the admitted text (a restart serves the same)');
  t.equal(readFileSync(`${file}.sig`, 'utf8'), `${jws}\n`, 'with its signature');
  const supervisor = await mint(testKey, { sub: 'sup-1', roles: ['cs_supervisor'] });
  const res = await rawHttps(gw.port, get('/api/customers/7', [`Authorization: Bearer ${supervisor}`, 'X-Purpose: customer_service']), { ca });
  t.equal(res.status, 200, 'the widened role is served');
  const [latest] = (await listPolicyVersions(gw.db)).filter((v) => v.instance === gw.audit.journal.instance);
  t.match(latest, { loadedBy: 'admin API (officer.li)', signer: 'officer.zhang', impact: ['WIDENS   purpose customer_service: roles added: cs_supervisor'] });
});

t.test('versions are kept whole: the exact bytes, their sha256 as the digest, and `policy versions` / `policy show` read them back', async (t) => {
  const o = await origin(t);
  const { file, dir } = await signedPolicy(t, o);
  // A comment and trailing spaces: bytes a re-serialisation would lose.
  writeFileSync(file, `# 客户信息保护 — signed by officer.zhang   \n${readFileSync(file, 'utf8')}`);
  await signPolicyFile(file, zhang.privatePem, 'officer.zhang');
  const bytes = readFileSync(file);
  const digest = createHash('sha256').update(bytes).digest('hex');
  // The embedded store under var/, so the CLI can read what the gateway kept.
  const g = await startGateway(loadConfig(file), { logger: silentLogger(), varDir: join(dir, 'var') });
  try {
    t.equal(g.policy.current.config.digest, digest, 'the version digest is the sha256 of the file as read');
    const kept = await policyTextOf(g.db, digest.slice(0, 12));
    t.ok(Buffer.from(kept.text).equals(bytes), 'the kept text is the file byte for byte');
  } finally {
    await g.close();
  }
  const listed = await cli(['policy', 'versions', '-c', file, '--var-dir', join(dir, 'var')]);
  t.match(listed.stdout, new RegExp(`^${digest.slice(0, 12)} .* start {2}signed: officer\\.zhang`, 'm'));
  const out = join(dir, 'rollback.yaml');
  const shown = await cli(['policy', 'show', digest.slice(0, 12), '-c', file, '--var-dir', join(dir, 'var'), '--out', out]);
  t.equal(shown.code, 0, shown.stderr);
  t.ok(readFileSync(out).equals(bytes), '`policy show` writes the exact bytes back (roll back: sign and load them)');
  const diffed = await cli(['policy', 'diff', digest.slice(0, 12), out, '-c', file, '--var-dir', join(dir, 'var')]);
  t.match(diffed.stdout, /no change to what anyone sees/, '`policy diff` takes a version id');
});

t.test('production signs by default: an unsigned policy is refused unless the file says so, which is warned and measured', async (t) => {
  const o = await origin(t);
  const written = await writeTestConfig(t, { upstreams: { origin: { url: o.url, allowPlaintext: true } }, routes: basicRoutes(), policy: undefined });
  const config = parse(readFileSync(written.file, 'utf8'));
  delete config.policy;
  writeFileSync(written.file, stringify(config));
  t.throws(() => loadConfig(written.file), /production mode requires a signed policy: name policy.trustAnchors .* or write policy.requireSignature: false/);
  const checked = await cli(['check', '-c', written.file]);
  t.equal(checked.code, 1);
  t.match(checked.stdout, /production mode requires a signed policy/);

  config.policy = { requireSignature: false };
  writeFileSync(written.file, stringify(config));
  const gw = await start(t, written.file, written.dir);
  t.match(await (await request(`${gw.adminUrl}/metrics`)).body.text(), /custodian_policy_unsigned 1/, 'the metric the CustodianPolicyUnsigned alert watches');
  const alerts = readFileSync('deploy/prometheus/custodian-alerts.yaml', 'utf8');
  t.match(alerts, /alert: CustodianPolicyUnsigned\n\s+#[^\n]*\n\s+expr: custodian_policy_unsigned == 1/);
});
