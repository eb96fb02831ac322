import { DEFAULT_FUNCTIONS } from '../policy/statement.js';
import { didYouMean } from './suggest.js';
import type { BuildContext } from './build-auth.js';
import { buildViews, type RawView } from './build-masking.js';
import { isLoopbackHost } from './loopback.js';
import type { SecretRef } from './secrets.js';
import type { Address, Classification, DatabaseConfig, MaskingConfig } from './types.js';

export interface RawDatabase {
  listen?: Partial<Address>;
  upstream: { url: string; password?: SecretRef; ca?: SecretRef; allowPlaintext?: boolean; maxSessions?: number };
  purposes?: string[];
  tables: Record<string, { subject?: string; purposes?: string[]; columns: Record<string, string> }>;
  views?: Record<string, RawView>;
  functions?: string[];
  maxMessageBytes?: number;
  catalogueRefreshSeconds?: number;
}

/**
 * The PostgreSQL front end's configuration: the listener, the gateway's own connection to the
 * loan database (verified TLS; plaintext only to loopback, as for HTTP upstreams), the tables
 * open through it with each column's dictionary field, and per-purpose views.
 */
export function buildDatabase(
  raw: RawDatabase | undefined,
  purposeIds: ReadonlySet<string>,
  classification: Classification,
  masking: MaskingConfig,
  ctx: BuildContext,
): DatabaseConfig | undefined {
  if (!raw) return undefined;
  const url = new URL(raw.upstream.url);
  const allowPlaintext = raw.upstream.allowPlaintext ?? false;
  if (url.password) ctx.issues.push({ path: ['database', 'upstream', 'url'], message: 'put the password in database.upstream.password (a secret reference), not in the URL' });
  if (allowPlaintext && !isLoopbackHost(url.hostname)) {
    ctx.issues.push({ path: ['database', 'upstream', 'allowPlaintext'], message: 'a plaintext database connection is allowed only to a loopback address' });
  }
  const purposes = [...(raw.purposes ?? [])];
  purposes.forEach((p, i) => {
    if (!purposeIds.has(p)) ctx.issues.push({ path: ['database', 'purposes', i], message: `unknown purpose "${p}"${didYouMean(p, purposeIds)}` });
  });
  const tables = new Map<string, DatabaseConfig['tables'] extends ReadonlyMap<string, infer T> ? T : never>();
  for (const [name, t] of Object.entries(raw.tables)) {
    const columns = new Map<string, string>();
    for (const [column, field] of Object.entries(t.columns)) {
      if (!classification.fields.has(field)) {
        ctx.issues.push({ path: ['database', 'tables', name, 'columns', column], message: `"${field}" is not a field of the data dictionary (classification.fields)` });
      }
      columns.set(column.toLowerCase(), field);
    }
    if (t.subject !== undefined && !columns.has(t.subject.toLowerCase())) {
      ctx.issues.push({ path: ['database', 'tables', name, 'subject'], message: `the subject column "${t.subject}" is not among the table's columns` });
    }
    const tablePurposes = [...(t.purposes ?? purposes)];
    tablePurposes.forEach((p, i) => {
      if (!purposes.includes(p)) ctx.issues.push({ path: ['database', 'tables', name, 'purposes', i], message: `purpose "${p}" is not a database purpose (database.purposes)` });
    });
    tables.set(name.toLowerCase(), { name: name.toLowerCase(), subject: t.subject?.toLowerCase(), purposes: tablePurposes, columns });
  }
  return {
    listen: { host: raw.listen?.host ?? '0.0.0.0', port: raw.listen?.port ?? 6432 },
    upstream: {
      url: raw.upstream.url,
      password: ctx.secret(raw.upstream.password, ['database', 'upstream', 'password']),
      ca: ctx.secret(raw.upstream.ca, ['database', 'upstream', 'ca']),
      allowPlaintext,
      maxSessions: raw.upstream.maxSessions ?? 100,
    },
    purposes,
    tables,
    views: buildViews(raw.views, ['database', 'views'], purposes, masking, ctx),
    functions: (raw.functions ?? DEFAULT_FUNCTIONS).map((f) => f.toLowerCase()),
    maxMessageBytes: raw.maxMessageBytes ?? 1048576,
    catalogueRefreshSeconds: raw.catalogueRefreshSeconds ?? 5,
  };
}
