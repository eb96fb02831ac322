import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logging.js';
import { type RunningGateway, startGateway } from '../../src/server.js';
import { testPki } from './certs.js';
import { type Origin, startOrigin } from './origin.js';
import { testDb } from './store.js';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { AUDIENCE, ISSUER, mint, type SigningKey, signingKey, testPurposes } from './tokens.js';

export interface TestGateway extends RunningGateway {
  readonly port: number;
  readonly ca: string;
  readonly dir: string;
}

/** A temporary directory that is removed when the test ends. */
export function tempDir(t: { teardown(fn: () => void): void }, prefix = 'custodian-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Routes for the counting origin, in the shape of the demo policy. */
export function basicRoutes(upstream = 'origin', purposes = ['credit_assessment', 'customer_service', 'stale_project']) {
  return [
    { id: 'customers.detail', method: 'GET', path: '/api/customers/:customerId', upstream, purposes },
    { id: 'customers.loans', method: 'GET', path: '/api/customers/:customerId/loans', upstream, purposes },
    { id: 'customers.create', method: 'POST', path: '/api/customers', upstream, purposes },
  ];
}

/** The Ed25519 key test gateways sign audit checkpoints with. */
export const CHECKPOINT_KEY_PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** The key the default test issuer trusts (static key source). */
export const testKey: SigningKey = signingKey('test-1');

/** The default trusted issuer: static ES256 key from a file. */
export function staticIssuer(keyFile = 'issuer-key.pem') {
  return {
    id: 'test-idp',
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['ES256'],
    keys: [{ kid: testKey.kid, key: { file: keyFile } }],
  };
}

/** Header lines of a valid credit officer declaring credit_assessment. */
export async function staffHeaders(purpose = 'credit_assessment'): Promise<string[]> {
  return [`Authorization: Bearer ${await mint(testKey)}`, `X-Purpose: ${purpose}`];
}

/** Write a test gateway's configuration (and its key files) into a temporary directory. */
export async function writeTestConfig(
  t: { teardown(fn: () => Promise<void> | void): void },
  config: Record<string, unknown>,
): Promise<{ dir: string; file: string; ca: string }> {
  const pki = await testPki();
  const dir = tempDir(t);
  writeFileSync(join(dir, 'server.pem'), pki.serverCert);
  writeFileSync(join(dir, 'server-key.pem'), pki.serverKey);
  writeFileSync(join(dir, 'issuer-key.pem'), testKey.publicPem);
  writeFileSync(join(dir, 'client-ca.pem'), pki.caCert);
  writeFileSync(join(dir, 'checkpoint-key.pem'), CHECKPOINT_KEY_PEM);
  const full = {
    audit: { instanceId: `test-${randomBytes(6).toString('hex')}`, checkpoint: { key: { file: 'checkpoint-key.pem' } } },
    listen: { data: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    tls: { cert: { file: 'server.pem' }, key: { file: 'server-key.pem' } },
    auth: { issuers: [staticIssuer()] },
    purposes: testPurposes(),
    // Production mode signs its policy by default; tests of signing set `policy` themselves.
    policy: { requireSignature: false },
    ...config,
  };
  const file = join(dir, 'custodian.yaml');
  writeFileSync(file, stringify(full));
  return { dir, file, ca: pki.caCert };
}

/**
 * Start a real gateway (TLS, ports 0) from a configuration object written out as YAML, the way
 * an operator would. The server certificate is signed by the test CA, returned as `ca`.
 */
export async function startTestGateway(
  t: { teardown(fn: () => Promise<void> | void): void },
  config: Record<string, unknown>,
  options: { now?: () => number; logger?: import('../../src/logging.js').Logger } = {},
): Promise<TestGateway> {
  const { dir, file, ca } = await writeTestConfig(t, config);
  const gateway = await startGateway(loadConfig(file), {
    logger: options.logger ?? silentLogger(),
    varDir: join(dir, 'var'),
    now: options.now,
    db: await testDb(),
  });
  t.teardown(() => gateway.close());
  return { ...gateway, port: Number(new URL(gateway.dataUrl).port), ca, dir };
}

/** A counting origin, and a gateway in front of it as upstream `origin` (plaintext, loopback). */
export async function gatewayWithOrigin(
  t: { teardown(fn: () => Promise<void> | void): void },
  config: Record<string, unknown>,
): Promise<{ origin: Origin; gw: TestGateway }> {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const gw = await startTestGateway(t, { upstreams: { origin: { url: origin.url, allowPlaintext: true } }, ...config });
  return { origin, gw };
}
