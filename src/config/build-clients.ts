import { attestationsFrom, type BuildContext } from './build-auth.js';
import { didYouMean } from './suggest.js';
import type { AuthConfig, CallerKind, ClientConfig, ClientIdentity, RouteConfig } from './types.js';

export interface RawClient {
  id: string;
  name?: string;
  identity: { certificate?: { cn?: string; uri?: string }; token?: { issuer: string; subject: string } };
  routes?: Record<string, string | string[]>;
  database?: string | string[];
  roles?: string[];
  attestations?: Record<string, true | string>;
  endUser?: {
    required?: boolean;
    token?: { header: string; issuers?: string[] };
    header?: { name: string; kind?: CallerKind; roles: string[]; attestations?: Record<string, true | string> };
  };
}

/**
 * Headers an application may not use to name its user: they carry the caller's own credentials,
 * the purpose or approval, framing, or what only the gateway asserts.
 */
function reservedHeader(name: string, auth: AuthConfig): boolean {
  return (
    ['authorization', 'proxy-authorization', 'cookie', 'host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'x-approval', auth.purposeHeader].includes(name) ||
    name.startsWith('x-custodian-')
  );
}

function identityKey(identity: ClientIdentity): string {
  if ('certificate' in identity) return identity.certificate.cn !== undefined ? `cn:${identity.certificate.cn}` : `uri:${identity.certificate.uri}`;
  return `token:${identity.token.issuer}:${identity.token.subject}`;
}

/**
 * The `clients` section: each application's identity, the purposes it serves per route, and how
 * the person acting through it is named. Every reference is checked here, so a request never
 * meets a client that names an unknown route, purpose or issuer.
 */
export function buildClients(
  raw: RawClient[] | undefined,
  routes: readonly RouteConfig[],
  auth: AuthConfig,
  databasePurposes: readonly string[] | undefined,
  ctx: BuildContext,
): ClientConfig[] {
  const routeById = new Map(routes.map((r) => [r.id, r]));
  const issuerIds = auth.issuers.map((i) => i.id);
  const ids = new Set<string>();
  const identities = new Map<string, string>();
  const headerOwners = new Map<string, string>();
  return (raw ?? []).map((c, index) => {
    const path = ['clients', index];
    if (ids.has(c.id)) ctx.issues.push({ path: [...path, 'id'], message: `duplicate client "${c.id}"` });
    ids.add(c.id);

    const identity: ClientIdentity = c.identity.certificate ? { certificate: { ...c.identity.certificate } } : { token: { ...(c.identity.token as { issuer: string; subject: string }) } };
    const key = identityKey(identity);
    const other = identities.get(key);
    if (other !== undefined) ctx.issues.push({ path: [...path, 'identity'], message: `client "${other}" has the same identity` });
    identities.set(key, c.id);
    if ('token' in identity && !issuerIds.includes(identity.token.issuer)) {
      ctx.issues.push({ path: [...path, 'identity', 'token', 'issuer'], message: `unknown issuer "${identity.token.issuer}"${didYouMean(identity.token.issuer, issuerIds)}` });
    }
    if ('certificate' in identity) {
      const { cn, uri } = identity.certificate;
      if (auth.clientCertificates.some((m) => (cn !== undefined && m.match.cn === cn) || (uri !== undefined && m.match.uri === uri))) {
        // One certificate, one meaning: as a caller of its own or as an application, not both.
        ctx.issues.push({ path: [...path, 'identity', 'certificate'], message: 'auth.clientCertificates maps the same certificate to a caller' });
      }
    }

    if (c.routes === undefined && c.database === undefined) {
      ctx.issues.push({ path, message: 'an application needs routes (over HTTP), database (through the PostgreSQL front end) or both' });
    }
    const clientRoutes = new Map<string, readonly string[]>();
    for (const [routeId, value] of Object.entries(c.routes ?? {})) {
      const purposes = Array.isArray(value) ? [...value] : [value];
      const route = routeById.get(routeId);
      if (!route) {
        ctx.issues.push({ path: [...path, 'routes', routeId], message: `unknown route "${routeId}"${didYouMean(routeId, routeById.keys())}`, atKey: true });
        continue;
      }
      purposes.forEach((purpose, i) => {
        if (!route.purposes.includes(purpose)) {
          const at = Array.isArray(value) ? [...path, 'routes', routeId, i] : [...path, 'routes', routeId];
          ctx.issues.push({ path: at, message: `route "${routeId}" does not allow purpose "${purpose}"${didYouMean(purpose, route.purposes)}` });
        }
      });
      clientRoutes.set(routeId, purposes);
    }

    const database = c.database === undefined ? undefined : Array.isArray(c.database) ? [...c.database] : [c.database];
    database?.forEach((purpose, i) => {
      const at = Array.isArray(c.database) ? [...path, 'database', i] : [...path, 'database'];
      if (!databasePurposes) ctx.issues.push({ path: at, message: 'there is no database front end (the top-level database section)' });
      else if (!databasePurposes.includes(purpose)) {
        ctx.issues.push({ path: at, message: `purpose "${purpose}" is not a database purpose (database.purposes)${didYouMean(purpose, databasePurposes)}` });
      }
    });

    const endUser = c.endUser;
    const headers: [string, string[]][] = [];
    if (endUser?.token) headers.push([endUser.token.header.toLowerCase(), ['endUser', 'token', 'header']]);
    if (endUser?.header) headers.push([endUser.header.name.toLowerCase(), ['endUser', 'header', 'name']]);
    for (const [name, at] of headers) {
      if (reservedHeader(name, auth)) ctx.issues.push({ path: [...path, ...at], message: `"${name}" cannot name an end user: the gateway reads it for something else` });
      const owner = headerOwners.get(name);
      // Another application's header must mean the same thing to the gateway; keep each its own.
      if (owner !== undefined && owner !== c.id) ctx.issues.push({ path: [...path, ...at], message: `client "${owner}" already uses the header "${name}"` });
      headerOwners.set(name, c.id);
    }
    if (endUser && !endUser.token && !endUser.header) {
      ctx.issues.push({ path: [...path, 'endUser'], message: 'name how the end user is identified: token, header, or both' });
    }
    if (headers.length === 2 && headers[0]?.[0] === headers[1]?.[0]) {
      ctx.issues.push({ path: [...path, 'endUser'], message: 'the token header and the user header must differ' });
    }
    (endUser?.token?.issuers ?? []).forEach((issuer, i) => {
      if (!issuerIds.includes(issuer)) ctx.issues.push({ path: [...path, 'endUser', 'token', 'issuers', i], message: `unknown issuer "${issuer}"${didYouMean(issuer, issuerIds)}` });
    });

    return {
      id: c.id,
      name: c.name,
      identity,
      routes: clientRoutes,
      database,
      roles: [...(c.roles ?? [])],
      attestations: attestationsFrom(c.attestations),
      endUser: endUser
        ? {
            required: endUser.required ?? true,
            token: endUser.token ? { header: endUser.token.header.toLowerCase(), issuers: endUser.token.issuers ? [...endUser.token.issuers] : undefined } : undefined,
            header: endUser.header
              ? { name: endUser.header.name.toLowerCase(), kind: endUser.header.kind ?? 'staff', roles: [...endUser.header.roles], attestations: attestationsFrom(endUser.header.attestations) }
              : undefined,
          }
        : undefined,
    };
  });
}
