import { createHash } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { ClientCertificateMapping, PrincipalTemplate } from '../config/types.js';
import type { PresentedCertificate } from './principal.js';

/** Reduce a verified peer certificate to its CN, SAN URIs and RFC 8705 thumbprint. */
export function presentedCertificate(peer: PeerCertificate): PresentedCertificate | undefined {
  if (!peer?.raw) return undefined;
  const uris = (peer.subjectaltname ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4));
  const cn = peer.subject?.CN;
  return {
    commonName: Array.isArray(cn) ? undefined : cn, // several CNs: ambiguous, match by URI only
    uris,
    thumbprint: createHash('sha256').update(peer.raw).digest('base64url'),
  };
}

/** The principal a verified certificate maps to, if any mapping names it. */
export function certificatePrincipal(
  certificate: PresentedCertificate,
  mappings: readonly ClientCertificateMapping[],
): PrincipalTemplate | undefined {
  for (const mapping of mappings) {
    if (mapping.match.cn !== undefined && mapping.match.cn === certificate.commonName) return mapping.principal;
    if (mapping.match.uri !== undefined && certificate.uris.includes(mapping.match.uri)) return mapping.principal;
  }
  return undefined;
}
