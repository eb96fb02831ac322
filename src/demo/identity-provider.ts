import { createHash, createPrivateKey, timingSafeEqual, createPublicKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, SignJWT } from 'jose';

/**
 * A stand-in identity provider for the demo only: it publishes a JWKS and mints tokens for the
 * demo's cast of callers. Custodian itself never issues tokens; in production it trusts the
 * company's own IdP.
 */
export const DEMO_ISSUER = 'https://idp.custodian-demo.local';
export const DEMO_AUDIENCE = 'custodian-demo';
const KID = 'demo-idp-1';

export interface DemoIdentityProvider {
  readonly server: FastifyInstance;
  mint(claims: Record<string, unknown>, lifetimeSec: number): Promise<string>;
  /** Register an application for the client-credentials grant at /oauth/token. */
  registerClient(id: string, secret: string, claims: Record<string, unknown>): void;
}

function signingKey(varDir: string): KeyObject {
  const file = join(varDir, 'demo-idp-key.pem');
  if (!existsSync(file)) {
    mkdirSync(varDir, { recursive: true });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  }
  return createPrivateKey(readFileSync(file, 'utf8'));
}

export async function createDemoIdentityProvider(varDir: string): Promise<DemoIdentityProvider> {
  const key = signingKey(varDir);
  const jwk = { ...(await exportJWK(createPublicKey(key))), kid: KID, alg: 'ES256', use: 'sig' };
  const server = Fastify({ logger: false }) as unknown as FastifyInstance;
  server.get('/.well-known/jwks.json', async () => ({ keys: [jwk] }));
  const mint = async (claims: Record<string, unknown>, lifetimeSec: number) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: DEMO_ISSUER, aud: DEMO_AUDIENCE, iat: now, exp: now + lifetimeSec, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: KID, typ: 'JWT' })
      .sign(key);
  };

  // RFC 6749 §4.4: an application trades its id and secret (HTTP Basic) for an access token.
  const clients = new Map<string, { secret: string; claims: Record<string, unknown> }>();
  server.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, new URLSearchParams(body as string)));
  server.post('/oauth/token', async (request, reply) => {
    const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(request.headers.authorization ?? '')?.[1];
    const [id, secret] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':') : [];
    const client = id !== undefined ? clients.get(id) : undefined;
    if (!client || !secret || !timingSafeEqual(Buffer.from(createHash('sha256').update(secret).digest()), Buffer.from(createHash('sha256').update(client.secret).digest()))) {
      return reply.code(401).send({ error: 'invalid_client' });
    }
    if ((request.body as URLSearchParams | undefined)?.get('grant_type') !== 'client_credentials') return reply.code(400).send({ error: 'unsupported_grant_type' });
    const lifetime = 3600;
    return { access_token: await mint(client.claims, lifetime), token_type: 'Bearer', expires_in: lifetime };
  });
  return {
    server,
    mint,
    registerClient(id, secret, claims) {
      clients.set(id, { secret, claims: { sub: id, client_id: id, ...claims } });
    },
  };
}

/** RFC 8705 x5t#S256 of a PEM certificate, to bind the partner's token to its certificate. */
export function certificateThumbprint(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');
}

/** The demo's cast: each key of var/demo-tokens.json and the claims behind it. */
export function demoCast(nowSec: number, partnerCertPem: string): Record<string, Record<string, unknown>> {
  const current = { training: nowSec + 180 * 86400, nda: true };
  return {
    credit_officer: { sub: 'staff-0017', kind: 'staff', roles: ['credit_officer'], attestations: current },
    risk_analyst: { sub: 'staff-0042', kind: 'staff', roles: ['risk_analyst'], attestations: current },
    cs_agent: { sub: 'staff-0108', kind: 'staff', roles: ['cs_agent'], attestations: current },
    collector: { sub: 'staff-0233', kind: 'staff', roles: ['collector'], attestations: current },
    auditor: { sub: 'staff-0007', kind: 'staff', roles: ['auditor'], attestations: current },
    partner: {
      sub: 'bureau-a',
      kind: 'partner',
      org: 'bureau-a',
      roles: ['credit_bureau'],
      attestations: { nda: true },
      cnf: { 'x5t#S256': certificateThumbprint(partnerCertPem) },
    },
    training_lapsed: {
      sub: 'staff-0311',
      kind: 'staff',
      roles: ['credit_officer', 'cs_agent'],
      attestations: { training: nowSec - 30 * 86400, nda: true },
    },
  };
}
