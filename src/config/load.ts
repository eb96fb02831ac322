import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { compileRoutes } from '../policy/routes.js';
import { type BuildContext, buildAuth, buildPurposes, endOfDayEpoch, type RawAuth, type RawPurpose } from './build-auth.js';
import { DETECTOR_KINDS, type DetectorKind } from '../mask/detectors.js';
import { buildClients, type RawClient } from './build-clients.js';
import { isLoopbackHost } from './loopback.js';
import { sha256 } from '../sha256.js';
import { buildAudit, buildStore, type RawAudit, type RawStore } from './build-audit.js';
import { buildDatabase, type RawDatabase } from './build-database.js';
import {
  buildClassification,
  buildMasking,
  buildViews,
  checkPseudonymKey,
  type RawClassification,
  type RawMasking,
  type RawView,
} from './build-masking.js';
import { ConfigError, type ConfigIssue, type PathIssue } from './issues.js';
import { validateAgainstSchema } from './schema.js';
import { didYouMean } from './suggest.js';
import { buildAdminTls, buildTls, type RawAdminTls, type RawTls } from './build-tls.js';
import { resolveSecret, type SecretRef } from './secrets.js';
import type { Address, Config, HttpMethod, PartnerConfig, RouteConfig, UpstreamConfig } from './types.js';
import { parseYaml } from './yaml-document.js';

/** The YAML document after schema validation (shape guaranteed by the schema). */
interface RawConfig {
  mode?: 'production' | 'demo';
  listen?: { data?: Partial<Address>; plaintext?: Partial<Address>; admin?: Partial<Address> };
  tls?: RawTls;
  limits?: { maxPathLength?: number; maxHeaderBytes?: number; maxBodyBytes?: number };
  upstreams: Record<
    string,
    {
      url: string;
      ca?: SecretRef;
      allowPlaintext?: boolean;
      connectTimeoutMs?: number;
      responseTimeoutMs?: number;
      forwardAuthorization?: boolean;
    }
  >;
  routes: {
    id: string;
    method: HttpMethod | HttpMethod[];
    path: string;
    upstream: string;
    purposes?: string[];
    unknownFields?: 'drop' | 'keep';
    detectors?: boolean | DetectorKind[];
    observe?: boolean;
    passthrough?: string[];
    responseHeaders?: { release?: string[]; scan?: string[] };
    views?: Record<string, RawView>;
    subjects?: ({ param: string } | { query: string } | { jsonPath: string })[];
    destructive?: boolean;
  }[];
  audit?: RawAudit;
  database?: RawDatabase;
  store?: RawStore;
  policy?: { requireSignature?: boolean; trustAnchors?: string; fourEyes?: boolean };
  policyTests?: string[];
  admin?: {
    officerRoles?: string[];
    approverRoles?: string[];
    auditorRoles?: string[];
    restrictionRefreshMs?: number;
    consentRefreshMs?: number;
    tls?: RawAdminTls;
  };
  partners?: {
    id: string;
    name?: string;
    contract: string;
    nda: string | { ref: string; expires: string };
    securityReview: { ref: string; date: string; expires?: string };
    purposes: string[];
    fields: string[];
    validFrom: string;
    validUntil: string;
  }[];
  auth?: RawAuth;
  clients?: RawClient[];
  purposes?: RawPurpose[];
  classification?: RawClassification;
  masking?: RawMasking;
}

export interface LoadOptions {
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Read, validate and freeze a configuration file. Throws ConfigError listing every problem
 * (syntax, schema, references, overlaps, unreadable secrets) with file and line.
 */
export function loadConfig(file: string, options: LoadOptions = {}): Config {
  return loadConfigDetailed(file, options).config;
}

/** A loaded configuration plus a way to point at lines of its file (for warnings). */
export interface LoadedConfig {
  readonly config: Config;
  locate(issue: PathIssue): ConfigIssue;
}

export function loadConfigDetailed(file: string, options: LoadOptions = {}): LoadedConfig {
  const source = resolve(file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(source);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw new ConfigError([{ file: source, line: 0, column: 0, path: '', message: `cannot read file (${code})` }]);
  }
  // The policy's text is kept and signed byte for byte: it must read back as the same bytes.
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) {
    throw new ConfigError([{ file: source, line: 0, column: 0, path: '', message: 'the file is not valid UTF-8' }]);
  }
  return parseConfigDetailed(source, text, options);
}

export function parseConfig(source: string, text: string, options: LoadOptions = {}): Config {
  return parseConfigDetailed(source, text, options).config;
}

export function parseConfigDetailed(source: string, text: string, options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const doc = parseYaml(source, text);
  if (doc.syntaxIssues.length > 0) throw new ConfigError(doc.syntaxIssues);

  const schemaIssues = validateAgainstSchema(doc.value);
  if (schemaIssues.length > 0) throw new ConfigError(schemaIssues.map((i) => doc.locate(i)));

  const raw = doc.value as RawConfig;
  const baseDir = dirname(source);
  const issues: PathIssue[] = [];

  const secret = (ref: SecretRef | undefined, path: (string | number)[]): string | undefined => {
    if (ref === undefined) return undefined;
    const result = resolveSecret(ref, baseDir, env);
    if (!result.ok) {
      issues.push({ path, message: result.message });
      return undefined;
    }
    return result.value;
  };

  const ctx: BuildContext = { secret, issues };
  const auth = buildAuth(raw.auth, ctx);
  const purposes = buildPurposes(raw.purposes, ctx);
  const purposeIds = new Set(purposes.map((p) => p.id));
  const masking = buildMasking(raw.masking, ctx);
  const partners = new Map<string, PartnerConfig>();
  (raw.partners ?? []).forEach((p, index) => {
    if (partners.has(p.id)) issues.push({ path: ['partners', index, 'id'], message: `duplicate partner "${p.id}"` });
    p.purposes.forEach((purpose, i) => {
      if (!purposeIds.has(purpose)) issues.push({ path: ['partners', index, 'purposes', i], message: `unknown purpose "${purpose}"${didYouMean(purpose, purposeIds)}` });
    });
    partners.set(p.id, {
      id: p.id,
      name: p.name,
      contract: p.contract,
      nda: typeof p.nda === 'string' ? p.nda : p.nda.ref,
      ndaExpiresAt: typeof p.nda === 'string' ? undefined : endOfDayEpoch(p.nda.expires),
      securityReview: {
        ref: p.securityReview.ref,
        date: p.securityReview.date,
        // A security review is good for a year unless the file says otherwise.
        expiresAt: p.securityReview.expires ? endOfDayEpoch(p.securityReview.expires) : endOfDayEpoch(p.securityReview.date) + 365 * 86400,
      },
      purposes: [...p.purposes],
      fields: [...p.fields],
      validFrom: Date.parse(`${p.validFrom}T00:00:00Z`) / 1000,
      validUntil: endOfDayEpoch(p.validUntil),
    });
  });
  const classification = buildClassification(raw.classification);
  for (const [kind, map] of [['fields', classification.fields], ['paths', classification.paths]] as const) {
    for (const [name, entry] of map) checkPseudonymKey(entry.operator, masking, ctx, ['classification', kind, name]);
  }

  const upstreams = new Map<string, UpstreamConfig>();
  for (const [name, u] of Object.entries(raw.upstreams)) {
    const url = new URL(u.url);
    const allowPlaintext = u.allowPlaintext ?? false;
    if (url.protocol === 'http:') {
      if (!allowPlaintext) {
        issues.push({ path: ['upstreams', name, 'url'], message: 'plaintext upstream requires allowPlaintext: true' });
      } else if (!isLoopbackHost(url.hostname)) {
        issues.push({
          path: ['upstreams', name, 'url'],
          message: 'plaintext upstreams are allowed only on a loopback address (127.0.0.0/8, ::1, localhost)',
        });
      }
    }
    upstreams.set(name, {
      name,
      origin: url.origin,
      host: url.host,
      ca: secret(u.ca, ['upstreams', name, 'ca']),
      allowPlaintext,
      connectTimeoutMs: u.connectTimeoutMs ?? 5000,
      responseTimeoutMs: u.responseTimeoutMs ?? 30000,
      forwardAuthorization: u.forwardAuthorization ?? false,
    });
  }

  const routes: RouteConfig[] = raw.routes.map((r, index) => {
    if (!upstreams.has(r.upstream)) {
      issues.push({ path: ['routes', index, 'upstream'], message: `unknown upstream "${r.upstream}"${didYouMean(r.upstream, upstreams.keys())}` });
    }
    (r.purposes ?? []).forEach((purpose, i) => {
      if (!purposeIds.has(purpose)) {
        issues.push({ path: ['routes', index, 'purposes', i], message: `unknown purpose "${purpose}"${didYouMean(purpose, purposeIds)}` });
      }
    });
    const routePurposes = [...(r.purposes ?? [])];
    (r.passthrough ?? []).forEach((purpose, i) => {
      if (!routePurposes.includes(purpose)) {
        issues.push({ path: ['routes', index, 'passthrough', i], message: `passthrough for purpose "${purpose}", which this route does not allow` });
      }
    });
    return {
      id: r.id,
      methods: Array.isArray(r.method) ? [...r.method] : [r.method],
      path: r.path,
      upstream: r.upstream,
      purposes: routePurposes,
      unknownFields: r.unknownFields ?? 'drop',
      detectors: r.detectors !== false,
      detectorKinds: Array.isArray(r.detectors) ? [...r.detectors] : [...DETECTOR_KINDS],
      observe: r.observe ?? false,
      passthrough: [...(r.passthrough ?? [])],
      views: buildViews(r.views, ['routes', index, 'views'], routePurposes, masking, ctx),
      subjects: (r.subjects ?? []).map((subject, i) => {
        if ('param' in subject && !r.path.split('/').includes(`:${subject.param}`)) {
          issues.push({ path: ['routes', index, 'subjects', i], message: `the path has no parameter ":${subject.param}"` });
        }
        return { ...subject };
      }),
      destructive: r.destructive ?? false,
      responseHeaders: { release: [...(r.responseHeaders?.release ?? [])], scan: [...(r.responseHeaders?.scan ?? [])] },
    };
  });
  issues.push(...compileRoutes(routes).issues);
  const clients = buildClients(raw.clients, routes, auth, raw.database ? (raw.database.purposes ?? []) : undefined, ctx);

  const mode = raw.mode ?? 'production';
  const audit = buildAudit(raw.audit, mode, baseDir, ctx);
  const store = buildStore(raw.store, baseDir, ctx, env);
  const tls = buildTls(raw.tls, mode, ctx);
  const adminTls = buildAdminTls(raw.admin?.tls, raw.listen?.admin?.host ?? '127.0.0.1', ctx);

  // Outside demo mode a policy is signed unless the file says otherwise, in writing.
  const requireSignature = raw.policy?.requireSignature ?? mode === 'production';
  if (requireSignature && !raw.policy?.trustAnchors) {
    issues.push({
      path: ['policy'],
      message:
        raw.policy?.requireSignature === undefined
          ? 'production mode requires a signed policy: name policy.trustAnchors (the officers\' public keys), or write policy.requireSignature: false (then warned at start, counted in custodian_policy_unsigned and alerted)'
          : 'requireSignature needs policy.trustAnchors (the officers\' public keys)',
    });
  }
  if (raw.policy?.fourEyes && !requireSignature) {
    issues.push({ path: ['policy', 'fourEyes'], message: 'fourEyes needs signed policies (policy.requireSignature and policy.trustAnchors)' });
  }
  if (issues.length > 0) throw new ConfigError(issues.map((i) => doc.locate(i)));

  const listen = raw.listen ?? {};
  const config: Config = {
    source,
    baseDir,
    digest: sha256(text, 'hex'),
    text,
    mode,
    listen: {
      data: { host: listen.data?.host ?? '0.0.0.0', port: listen.data?.port ?? 8443 },
      plaintext: listen.plaintext
        ? { host: listen.plaintext.host ?? '0.0.0.0', port: listen.plaintext.port ?? 8080 }
        : undefined,
      admin: { host: listen.admin?.host ?? '127.0.0.1', port: listen.admin?.port ?? 9464 },
    },
    tls,
    limits: {
      maxPathLength: raw.limits?.maxPathLength ?? 2048,
      maxHeaderBytes: raw.limits?.maxHeaderBytes ?? 16384,
      maxBodyBytes: raw.limits?.maxBodyBytes ?? 1048576,
    },
    upstreams,
    routes,
    auth,
    purposes,
    classification,
    masking,
    audit,
    store,
    admin: {
      officerRoles: [...(raw.admin?.officerRoles ?? ['information_officer'])],
      approverRoles: [...(raw.admin?.approverRoles ?? ['approver'])],
      auditorRoles: [...(raw.admin?.auditorRoles ?? ['auditor'])],
      restrictionRefreshMs: raw.admin?.restrictionRefreshMs ?? 2000,
      consentRefreshMs: raw.admin?.consentRefreshMs ?? 2000,
      tls: adminTls,
    },
    partners,
    clients,
    database: buildDatabase(raw.database, purposeIds, classification, masking, ctx),
    policy: {
      requireSignature,
      trustAnchorsFile: raw.policy?.trustAnchors ? resolve(baseDir, raw.policy.trustAnchors) : undefined,
      fourEyes: raw.policy?.fourEyes ?? false,
      unsignedInProduction: mode === 'production' && !requireSignature,
    },
    policyTests: (raw.policyTests ?? []).map((f) => resolve(baseDir, f)),
  };
  return { config: deepFreeze(config), locate: (issue) => doc.locate(issue) };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    if (value instanceof Map) {
      for (const v of value.values()) deepFreeze(v);
      // A frozen Map can still be mutated through set/delete; replace those with throwers.
      const frozenMap = value as Map<unknown, unknown>;
      const refuse = () => {
        throw new TypeError('configuration is frozen');
      };
      Object.defineProperties(frozenMap, { set: { value: refuse }, delete: { value: refuse }, clear: { value: refuse } });
    } else {
      for (const v of Object.values(value)) deepFreeze(v);
    }
    Object.freeze(value);
  }
  return value;
}

export { isLoopbackHost };
export type { ConfigIssue };
