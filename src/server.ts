import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { type DatabaseListener, startDatabaseListener } from './pgwire/server.js';
import type { Config } from './config/types.js';
import { ensureDemoPki } from './demo/pki.js';
import { buildAdmin } from './http/admin.js';
import { createPlaintextRefusal } from './http/plaintext.js';
import { adminPlaneTlsOptions, type ServerCertificate } from './http/tls.js';
import { createLogger, type Logger } from './logging.js';
import { compilePolicy, PolicyHolder } from './policy/compile.js';
import { createUpstreamDispatcher } from './upstream/dispatcher.js';
import { checkpointKeyFromPem, ensureDemoCheckpointKey } from './audit/checkpoint.js';
import { AuditService } from './audit/service.js';
import { Forwarder } from './audit/forward/forwarder.js';
import { JsonLinesTarget } from './audit/forward/json-lines.js';
import { SyslogTlsTarget } from './audit/forward/syslog.js';
import type { ForwardTarget } from './audit/forward/target.js';
import { type Db, openDb } from './store/db.js';
import { migrate } from './store/migrations.js';
import { ConfigError, formatIssue } from './config/issues.js';
import { loadConfig, parseConfig } from './config/load.js';
import { Metrics } from './metrics/metrics.js';
import { RestrictionCache } from './governance/restrictions.js';
import { ConsentCache } from './governance/consents.js';
import { lintPolicy } from './policy/lint.js';
import { loadTrustAnchors, signatureFileOf, signatureTextOf } from './config/signature.js';
import { type Admission, type AdmissionRules, admitPolicy } from './policy/admission.js';
import { formatImpact } from './policy/impact.js';
import { latestPolicyText, recordPolicyVersionRow } from './store/policy-versions.js';
import type { Principal } from './auth/principal.js';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface GatewayOptions {
  readonly logger?: Logger;
  /** Where demo mode keeps generated material (default ./var). */
  readonly varDir?: string;
  /** Clock for token and purpose checks (tests freeze it). */
  readonly now?: () => number;
  /** A store opened by the caller (tests share one); otherwise opened from the configuration. */
  readonly db?: Db;
}

export interface RunningGateway {
  readonly dataUrl: string;
  readonly adminUrl: string;
  readonly plaintextUrl: string | undefined;
  /** The PostgreSQL front end's port, when configured. */
  readonly databasePort: number | undefined;
  readonly policy: PolicyHolder;
  readonly app: FastifyInstance;
  readonly audit: AuditService;
  readonly db: Db;
  readonly metrics: Metrics;
  /** Registries the request path reads from memory (refreshed from the store). */
  readonly governance: { readonly consents: ConsentCache; readonly restrictions: RestrictionCache };
  /**
   * Re-read, validate and compile the configuration file; on success the new policy serves every
   * request that starts afterwards (in-flight ones finish under theirs); on failure the running
   * policy stays and every error is returned, logged, counted and shown on /readyz.
   */
  reload(candidate?: ReloadCandidate, actor?: Principal): Promise<ReloadResult>;
  close(): Promise<void>;
}

/** A policy handed over the admin API instead of read from the file: written there once admitted. */
export interface ReloadCandidate {
  readonly text: string;
  /** The signature file's text: one JWS per line. */
  readonly signatureText: string | undefined;
  /** The officer who handed it over. */
  readonly actor: string;
}

/** `impact`: the change's impact report lines against the running policy. */
export type ReloadResult = { ok: true; version: string; impact: string[] } | { ok: false; errors: string[]; impact: string[] };

/** Parts that a running process cannot swap (sockets, pools, the audit chain): restart to change. */
function restartOnlyChanges(running: Config, next: Config): string[] {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const changed: string[] = [];
  if (running.mode !== next.mode) changed.push('mode');
  if (!same(running.listen, next.listen)) changed.push('listen');
  if (!same(running.tls, next.tls)) changed.push('tls');
  if (!same(running.admin.tls, next.admin.tls)) changed.push('admin.tls');
  if (Boolean(running.database) !== Boolean(next.database) || !same(running.database?.listen, next.database?.listen)) changed.push('database.listen');
  if (!same(running.database?.upstream, next.database?.upstream)) changed.push('database.upstream');
  if (!same([...running.upstreams.entries()], [...next.upstreams.entries()])) changed.push('upstreams');
  if (!same(running.audit, next.audit)) changed.push('audit');
  if (!same(running.store, next.store)) changed.push('store');
  if (!same(running.limits, next.limits)) changed.push('limits');
  if (!same(running.policy, next.policy)) changed.push('policy (signature settings)');
  return changed.map((part) => `${part} changed: restart the gateway to apply it (the running policy is kept)`);
}

/**
 * The chain id of this gateway's journal: configured, or made once per journal directory
 * (host name plus a random suffix), so a pod that restarts with an empty volume starts a new
 * chain instead of reusing sequence numbers of an old one.
 */
function instanceIdFor(config: Config, journalDir: string): string {
  const file = join(journalDir, 'instance-id');
  if (config.audit.instanceId !== undefined) return config.audit.instanceId;
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const id = config.audit.instanceId ?? `${hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 50)}-${randomBytes(4).toString('hex')}`;
  mkdirSync(journalDir, { recursive: true });
  writeFileSync(file, id);
  return id;
}

function urlOf(scheme: string, server: { address(): AddressInfo | string | null }): string {
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${a.port}`;
}

/**
 * The data plane's certificate and client CA. Only in demo mode may either be missing from the
 * configuration (loadConfig enforces it); the demo PKI under var/ fills the gap.
 */
async function certificateFor(config: Config, varDir: string): Promise<ServerCertificate> {
  const { cert, key, clientCa, clientCertificate } = config.tls;
  const needsClientCa = clientCertificate !== 'none' && clientCa === undefined;
  if (cert && key && !needsClientCa) return { cert, key, clientCa };
  if (config.mode !== 'demo') throw new Error('no TLS certificate or client CA configured');
  const pki = await ensureDemoPki(varDir);
  return {
    cert: cert ?? pki.serverCert,
    key: key ?? pki.serverKey,
    clientCa: clientCa ?? (needsClientCa ? pki.caCert : undefined),
  };
}

/** Thrown when a policy may not serve: its signature, its tests or four-eyes refused it. */
export class PolicyRefusedError extends Error {
  readonly errors: readonly string[];
  constructor(errors: readonly string[]) {
    super(`policy refused:\n${errors.map((e) => `  ${e}`).join('\n')}`);
    this.name = 'PolicyRefusedError';
    this.errors = errors;
  }
}

/** The newest kept version, parsed, to work out a starting policy's impact against. */
async function lastServedPolicy(db: Db, config: Config): Promise<AdmissionRules['previous']> {
  const last = await latestPolicyText(db);
  if (!last) return undefined;
  if (last.digest === config.digest) return { config };
  try {
    return { config: parseConfig(config.source, last.text) };
  } catch (err) {
    return { unreadable: err instanceof ConfigError ? `${err.issues.length} error(s) reading version ${last.digest.slice(0, 12)}` : String(err) };
  }
}

/**
 * Every loaded policy version is kept whole — its exact text, signers, who loaded it how and its
 * impact against the version it replaced — and its loading is an audit record.
 */
async function recordPolicyVersion(
  db: Db,
  audit: AuditService,
  config: Config,
  admission: Admission,
  loadedBy: string,
  previous: Config | undefined,
  actor?: Principal,
) {
  const [signer, ...cosigners] = admission.signatures;
  const impact = admission.impact ? formatImpact(admission.impact) : [];
  await recordPolicyVersionRow(db, {
    instance: audit.journal.instance,
    digest: config.digest,
    signer: signer?.signer ?? null,
    signedAt: signer?.signedAt ?? null,
    cosigners: cosigners.map((c) => c.signer),
    text: config.text,
    loadedBy,
    previousDigest: previous?.digest ?? null,
    revealing: admission.impact?.revealing ?? false,
    impact,
  });
  await audit.recordDecision({
    v: 1,
    type: 'policy',
    id: randomUUID(),
    time: new Date().toISOString(),
    caller: actor ? { sub: actor.subject, kind: actor.kind, org: actor.organisation, roles: actor.roles } : undefined,
    detail: {
      event: previous ? 'reloaded' : 'loaded',
      loadedBy,
      version: config.digest.slice(0, 12),
      digest: config.digest,
      signer: signer?.signer,
      cosigners: cosigners.map((c) => c.signer),
      previous: previous?.digest.slice(0, 12),
      revealing: admission.impact?.revealing ?? false,
      impact,
    },
  });
}

/** The log-platform forwarder the configuration asks for (syslog over TLS, JSON lines), if any. */
function forwarderFor(config: Config, db: Db, instance: string): Forwarder | undefined {
  const f = config.audit.forward;
  if (!f) return undefined;
  const targets: ForwardTarget[] = [];
  if (f.syslog) targets.push(new SyslogTlsTarget(f.syslog));
  if (f.jsonLinesFile) targets.push(new JsonLinesTarget(f.jsonLinesFile));
  return targets.length > 0 ? new Forwarder(db, instance, targets, f.batch) : undefined;
}

/** Write a file by replacing it whole (a crash leaves the old file or the new one, never half). */
function replaceFile(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

/**
 * Replace a policy file and its signature file (signature first: a crash between the two leaves
 * a file its signature does not match, which is refused, never an unsigned policy served).
 * Returns how to put the previous ones back.
 */
function writePolicyFiles(file: string, text: string, signatureText: string | undefined): () => void {
  const sigFile = signatureFileOf(file);
  const previous = { text: readFileSync(file, 'utf8'), signature: existsSync(sigFile) ? readFileSync(sigFile, 'utf8') : undefined };
  if (signatureText !== undefined) replaceFile(sigFile, signatureText);
  replaceFile(file, text);
  return () => {
    if (previous.signature !== undefined) replaceFile(sigFile, previous.signature);
    replaceFile(file, previous.text);
  };
}

/** Build every listener from a loaded configuration and start listening. */
export async function startGateway(config: Config, options: GatewayOptions = {}): Promise<RunningGateway> {
  // A policy is admitted before anything listens (signature, policy tests, four-eyes against the
  // last version served); once signatures are required every reload needs one too, against the
  // anchors loaded now (a new file cannot name its own trust anchors).
  const anchors = config.policy.requireSignature && config.policy.trustAnchorsFile ? loadTrustAnchors(config.policy.trustAnchorsFile) : undefined;
  const logger = options.logger ?? createLogger();
  const varDir = options.varDir ?? resolve('var');
  const policy = new PolicyHolder(compilePolicy(config, { now: options.now }));
  const dispatcher = createUpstreamDispatcher(config.upstreams);
  const certificate = await certificateFor(config, varDir);

  const ownsDb = options.db === undefined;
  const db = options.db ?? (await openDb(config.store.databaseUrl, config.store.embeddedDir ?? join(varDir, 'pglite')));
  await migrate(db);
  const lastServed = await lastServedPolicy(db, config);
  const startAdmission = await admitPolicy(
    { config, signatureText: signatureTextOf(config.source) },
    { anchors, fourEyes: config.policy.fourEyes || (lastServed && 'config' in lastServed ? lastServed.config.policy.fourEyes : false), previous: lastServed },
  );
  if (startAdmission.errors.length > 0) {
    if (ownsDb) await db.close();
    throw new PolicyRefusedError(startAdmission.errors);
  }
  const journalDir = config.audit.journalDir ?? join(varDir, 'audit');
  const keyPem = config.audit.checkpointKey ?? ensureDemoCheckpointKey(join(varDir, 'checkpoint-key.pem'));
  const audit = await AuditService.start(db, {
    journalDir,
    instance: instanceIdFor(config, journalDir),
    budgetBytes: config.audit.spoolBudgetBytes,
    segmentBytes: config.audit.segmentBytes,
    durability: config.audit.durability,
    checkpointKey: checkpointKeyFromPem(keyPem).privateKey,
    checkpointEveryRecords: config.audit.checkpointEveryRecords,
    checkpointEverySeconds: config.audit.checkpointEverySeconds,
    retentionDays: config.audit.retentionDays,
    localTail: config.audit.localTail,
    shipIntervalMs: config.audit.shipIntervalMs,
  });
  await recordPolicyVersion(db, audit, config, startAdmission, 'start', lastServed && 'config' in lastServed && lastServed.config.digest !== config.digest ? lastServed.config : undefined);
  if (startAdmission.impact && startAdmission.impact.lines.length > 0) {
    logger.warn({ impact: formatImpact(startAdmission.impact) }, 'policy differs from the version served last');
  }
  if (config.audit.durability === 'async') logger.warn('audit durability is async: a crash can lose the last access records');
  if (config.policy.unsignedInProduction) logger.warn('policy.requireSignature is false in production mode: any edit to the file goes live unsigned');

  const metrics = new Metrics(policy, audit);
  const forwarder = forwarderFor(config, db, audit.journal.instance);
  forwarder?.start(config.audit.forward?.intervalMs ?? 1000);
  // Exposed (empty) without forwarding too: dashboards and alert rules can name it either way.
  metrics.watchForwarding(forwarder ?? { status: [] }, () => audit.shipper.status.shippedSeq);
  let lastReload: { ok: boolean; errors: readonly string[]; at: string | undefined } = { ok: true, errors: [], at: undefined };
  /**
   * Re-read the file (SIGHUP) or take a policy handed over the admin API, and admit it through
   * the same gate as at start, against the running policy. Admitted: (admin API: written to the
   * file and its .sig first, so a restart serves the same) recorded whole with its impact, then
   * swapped in. Refused: the running policy stays and every reason is returned, logged, counted
   * and shown on /readyz.
   */
  const reload = async (candidate?: ReloadCandidate, actor?: Principal): Promise<ReloadResult> => {
    const at = new Date().toISOString();
    metrics.reloadTimestamp.set(Date.now() / 1000);
    let errors: string[];
    let impact: string[] = [];
    try {
      const next = candidate ? parseConfig(config.source, candidate.text) : loadConfig(config.source);
      errors = restartOnlyChanges(config, next);
      if (errors.length === 0) {
        const running = policy.current.config;
        const admission = await admitPolicy(
          { config: next, signatureText: candidate ? candidate.signatureText : signatureTextOf(next.source) },
          // Switching four-eyes off is itself decided under four-eyes.
          { anchors, fourEyes: running.policy.fourEyes || next.policy.fourEyes, previous: { config: running } },
        );
        impact = admission.impact ? formatImpact(admission.impact) : [];
        errors = [...admission.errors];
        if (errors.length === 0) {
          const compiled = compilePolicy(next, { now: options.now });
          // The file is what a restart serves: the policy handed over becomes it, signature first.
          const restore = candidate ? writePolicyFiles(next.source, candidate.text, candidate.signatureText) : undefined;
          try {
            // Recorded before it serves: a policy change nobody can find later does not go live.
            await recordPolicyVersion(db, audit, next, admission, candidate ? `admin API (${candidate.actor})` : 'reload (SIGHUP)', running, actor);
          } catch (err) {
            restore?.();
            throw err;
          }
          policy.swap(compiled);
          for (const w of lintPolicy(next)) logger.warn({ path: w.path.join('/') }, `policy warning: ${w.message}`);
          lastReload = { ok: true, errors: [], at };
          metrics.reloads.inc({ result: 'success' });
          metrics.reloadSuccess.set(1);
          logger.info({ version: compiled.version, impact }, 'policy reloaded');
          return { ok: true, version: compiled.version, impact };
        }
      }
    } catch (err) {
      errors = err instanceof ConfigError ? err.issues.map(formatIssue) : [err instanceof Error ? err.message : String(err)];
    }
    lastReload = { ok: false, errors, at };
    metrics.reloads.inc({ result: 'failure' });
    metrics.reloadSuccess.set(0);
    for (const e of errors) logger.error({ reloadError: e }, 'policy reload refused; the running policy stays');
    return { ok: false, errors, impact };
  };

  const restrictions = new RestrictionCache(db);
  await restrictions.refresh();
  restrictions.start(config.admin.restrictionRefreshMs);
  metrics.watchRestrictions(restrictions);
  const consents = new ConsentCache(db);
  await consents.refresh();
  consents.start(config.admin.consentRefreshMs);

  const app = await buildApp(config, { policy, certificate, dispatcher, logger, audit, metrics, restrictions, db, consents });
  const admin = buildAdmin({
    policy,
    logger,
    readiness: () => {
      const h = audit.health;
      const ready = h.journal.writable && !h.journal.exhausted;
      return { ready, detail: { audit: { ready, journal: h.journal, shipper: h.shipper } } };
    },
    db,
    metrics,
    reloadState: () => lastReload,
    api: { policy, db, audit, restrictions, consents, reload, checkpointPem: keyPem },
    https: config.admin.tls ? adminPlaneTlsOptions(config.admin.tls, config.tls, certificate) : undefined,
  });
  let plaintext: Server | undefined;
  let database: DatabaseListener | undefined;

  try {
    await app.listen({ host: config.listen.data.host, port: config.listen.data.port });
    await admin.listen({ host: config.listen.admin.host, port: config.listen.admin.port });
    if (config.listen.plaintext) {
      const server = createPlaintextRefusal(config.limits.maxHeaderBytes);
      plaintext = server;
      const { host, port } = config.listen.plaintext;
      await new Promise<void>((ok, fail) => {
        server.once('error', fail);
        server.listen(port, host, () => ok());
      });
    }
    if (config.database) {
      database = await startDatabaseListener({ policy, audit, restrictions, db, tls: config.tls, certificate, logger, metrics });
    }
  } catch (err) {
    await Promise.allSettled([app.close(), admin.close(), dispatcher.close(), database?.close()]);
    plaintext?.close();
    await audit.close();
    await forwarder?.stop();
    if (ownsDb) await db.close();
    throw err;
  }

  return {
    dataUrl: urlOf('https', app.server),
    adminUrl: urlOf(config.admin.tls ? 'https' : 'http', admin.server),
    plaintextUrl: plaintext ? urlOf('http', plaintext) : undefined,
    databasePort: database?.port,
    policy,
    app,
    audit,
    db,
    metrics,
    governance: { consents, restrictions },
    reload,
    async close() {
      plaintext?.closeAllConnections();
      await Promise.allSettled([
        app.close(),
        admin.close(),
        plaintext ? new Promise((ok) => plaintext?.close(ok)) : undefined,
        database?.close(),
      ]);
      await dispatcher.close();
      restrictions.stop();
      consents.stop();
      await audit.close();
      await forwarder?.stop();
      if (ownsDb) await db.close();
    },
  };
}
