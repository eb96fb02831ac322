import { createServer, type Server } from 'node:http';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { exportJWK, type JWTPayload, SignJWT } from 'jose';

export const ISSUER = 'https://idp.test.custodian';
export const AUDIENCE = 'custodian';

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicPem: string;
}

export function signingKey(kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** Sign a token; defaults give a valid credit officer with current training and NDA. */
export async function mint(
  key: SigningKey,
  claims: JWTPayload & Record<string, unknown> = {},
  options: { nowSec?: number; header?: Record<string, unknown>; lifetimeSec?: number } = {},
): Promise<string> {
  const now = options.nowSec ?? Math.floor(Date.now() / 1000);
  const payload = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'u-credit-001',
    roles: ['credit_officer'],
    kind: 'staff',
    attestations: { training: now + 86400 * 30, nda: true },
    iat: now,
    exp: now + (options.lifetimeSec ?? 600),
    ...claims,
  };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, ...options.header })
    .sign(key.privateKey);
}

/** A JWKS endpoint on 127.0.0.1 that counts fetches and can be switched off. */
export async function startJwks(keys: SigningKey[]): Promise<{
  url: string;
  fetches: () => number;
  setKeys(keys: SigningKey[]): void;
  down(isDown: boolean): void;
  close(): Promise<void>;
}> {
  let current = keys;
  let fetches = 0;
  let isDown = false;
  const server: Server = createServer(async (_req, res) => {
    fetches++;
    if (isDown) {
      res.writeHead(503).end();
      return;
    }
    const jwks = { keys: await Promise.all(current.map(async (k) => ({ ...(await exportJWK(k.publicKey)), kid: k.kid, alg: 'ES256', use: 'sig' }))) };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
    fetches: () => fetches,
    setKeys(k) {
      current = k;
    },
    down(d) {
      isDown = d;
    },
    close() {
      server.closeAllConnections();
      return new Promise((ok) => server.close(() => ok()));
    },
  };
}

/** A purpose catalogue shaped like the demo's, for tests. */
export function testPurposes(reviewUntil = '2099-12-31') {
  return [
    {
      id: 'credit_assessment',
      description: '信贷评估',
      lawfulBasis: 'contract',
      roles: ['credit_officer'],
      callerKinds: ['staff'],
      requiredAttestations: ['training', 'nda'],
      approvedBy: 'officer.li',
      reviewUntil,
    },
    {
      id: 'customer_service',
      description: '客户服务',
      lawfulBasis: 'contract',
      roles: ['cs_agent'],
      callerKinds: ['staff'],
      requiredAttestations: ['training'],
      approvedBy: 'officer.li',
      reviewUntil,
    },
    {
      id: 'partner_credit_check',
      description: '合作方征信查询',
      lawfulBasis: 'consent',
      roles: ['bureau'],
      callerKinds: ['partner'],
      approvedBy: 'officer.li',
      reviewUntil,
    },
    {
      id: 'stale_project',
      description: 'expired review',
      lawfulBasis: 'contract',
      roles: ['credit_officer'],
      callerKinds: ['staff'],
      approvedBy: 'officer.li',
      reviewUntil: '2020-01-01',
    },
  ];
}
