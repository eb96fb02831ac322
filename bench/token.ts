import type { KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';

/** A customer-service agent's token from the bench issuer (https://idp.bench), valid one hour. */
export function benchToken(privateKey: KeyObject, subject: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: subject, roles: ['cs_agent'], kind: 'staff', attestations: { training: now + 86400 } })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer('https://idp.bench')
    .setAudience('custodian')
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(privateKey);
}
