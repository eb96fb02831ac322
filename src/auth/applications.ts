import type { ClientConfig } from '../config/types.js';
import type { PresentedCertificate } from './principal.js';

/**
 * The `clients` section prepared for lookups: which application a verified certificate or a
 * verified client-credentials token belongs to, and every header applications use to name their
 * users (a request carrying one of those from anyone else is refused).
 */
export interface Applications {
  byCertificate(certificate: PresentedCertificate): ClientConfig | undefined;
  byToken(issuerId: string, subject: string): ClientConfig | undefined;
  byId(id: string): ClientConfig | undefined;
  /** Lower-case names of every end-user header (user names and forwarded user tokens). */
  readonly endUserHeaders: readonly string[];
  /** Lower-case names of the headers that carry forwarded user tokens (credentials, like Authorization). */
  readonly forwardedTokenHeaders: readonly string[];
}

export function compileApplications(clients: readonly ClientConfig[]): Applications {
  const byCn = new Map<string, ClientConfig>();
  const byUri = new Map<string, ClientConfig>();
  const byTokenKey = new Map<string, ClientConfig>();
  const tokenHeaders = new Set<string>();
  const nameHeaders = new Set<string>();
  const byId = new Map(clients.map((c) => [c.id, c]));
  for (const client of clients) {
    const identity = client.identity;
    if ('certificate' in identity) {
      if (identity.certificate.cn !== undefined) byCn.set(identity.certificate.cn, client);
      if (identity.certificate.uri !== undefined) byUri.set(identity.certificate.uri, client);
    } else {
      byTokenKey.set(`${identity.token.issuer}\u0000${identity.token.subject}`, client);
    }
    if (client.endUser?.token) tokenHeaders.add(client.endUser.token.header);
    if (client.endUser?.header) nameHeaders.add(client.endUser.header.name);
  }
  return {
    byCertificate(certificate) {
      const byName = certificate.commonName !== undefined ? byCn.get(certificate.commonName) : undefined;
      return byName ?? certificate.uris.map((uri) => byUri.get(uri)).find((c) => c !== undefined);
    },
    byToken: (issuerId, subject) => byTokenKey.get(`${issuerId}\u0000${subject}`),
    byId: (id) => byId.get(id),
    endUserHeaders: [...new Set([...tokenHeaders, ...nameHeaders])],
    forwardedTokenHeaders: [...tokenHeaders],
  };
}
