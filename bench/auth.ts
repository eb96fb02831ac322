import { generateKeyPairSync } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { createAuthenticator } from '../src/auth/authenticate.js';
import type { AuthConfig, PurposeConfig } from '../src/config/types.js';
import { authorizePurpose, compilePurposes } from '../src/policy/purposes.js';
import type { BenchSection } from './results.js';

/** CPU microseconds per call of `fn`, measured over a bounded number of iterations. */
async function cpuMicros(iterations: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < Math.min(1000, iterations); i++) await fn(); // warm-up
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) await fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / iterations;
}

export async function benchAuth(): Promise<BenchSection> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issuer = 'https://idp.bench';
  const auth = (maxEntries: number): AuthConfig => ({
    purposeHeader: 'x-purpose',
    clockToleranceSec: 30,
    maxTokenLifetimeSec: 3600,
    maxTokenBytes: 8192,
    tokenCacheMaxEntries: maxEntries,
    requireCertificateFor: [],
    requireTokenFor: [],
    requireBoundTokenFor: [],
    issuers: [
      {
        id: 'bench',
        issuer,
        audience: ['custodian'],
        algorithms: ['ES256'],
        jwks: undefined,
        keys: [{ kid: undefined, key: publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
        claims: { subject: 'sub', roles: 'roles', kind: 'kind', defaultKind: 'staff', organisation: 'org', attestations: 'attestations' },
      },
    ],
    clientCertificates: [],
  });
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ sub: 'staff-1', roles: ['credit_officer'], kind: 'staff', attestations: { training: now + 86400, nda: true } })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(issuer)
    .setAudience('custodian')
    .setIssuedAt(now)
    .setExpirationTime(now + 1800)
    .sign(privateKey);
  const purposes: PurposeConfig[] = [
    { id: 'credit_assessment', description: 'd', lawfulBasis: 'contract', roles: ['credit_officer'], callerKinds: ['staff'], requiredAttestations: ['training', 'nda'], approvedBy: 'o', reviewUntil: '2099-12-31', bulkLimit: undefined },
  ];
  const catalogue = compilePurposes(purposes);
  const routePurposes = new Set(['credit_assessment']);
  const input = { authorization: [`Bearer ${token}`], rawQuery: 'page=1', certificate: undefined };

  const warm = createAuthenticator(auth(1000));
  const cold = createAuthenticator(auth(0));
  const warmCall = async () => {
    const result = await warm.authenticate(input);
    if (!result.ok) throw new Error(result.code);
    const decision = authorizePurpose(['credit_assessment'], result.principal, routePurposes, catalogue, Date.now() / 1000);
    if (!decision.ok) throw new Error(decision.code);
  };
  const warmUs = await cpuMicros(200_000, warmCall);
  const joseUs = await cpuMicros(3000, () => jwtVerify(token, publicKey, { issuer, audience: 'custodian', algorithms: ['ES256'] }));
  const coldUs = await cpuMicros(3000, () => cold.authenticate(input));
  const ratio = coldUs / joseUs;
  return {
    title: 'Authentication and purpose (issue 3)',
    description:
      'CPU time per request in one process: a cache hit (token digest + LRU lookup + claim checks + purpose decision), a cold ES256 verification through the gateway, and jose.jwtVerify alone on the same token.',
    rows: [
      { name: 'warm: authenticate (cache hit) + purpose check', value: warmUs, unit: 'µs CPU', target: '≤ 20 µs', pass: warmUs <= 20 },
      { name: 'cold: authenticate with ES256 verification', value: coldUs, unit: 'µs CPU', target: 'near jose alone', pass: undefined },
      { name: 'jose.jwtVerify ES256 alone', value: joseUs, unit: 'µs CPU', target: '(baseline)', pass: undefined },
      { name: 'cold / jose ratio', value: ratio, unit: '×', target: '≤ 1.25×', pass: ratio <= 1.25 },
    ],
  };
}
