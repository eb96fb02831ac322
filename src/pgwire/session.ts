import { randomInt, randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AuditRecord } from '../audit/record.js';
import type { AuditService } from '../audit/service.js';
import { presentedCertificate } from '../auth/certificate.js';
import type { Principal } from '../auth/principal.js';
import { type ErrorCode, messageOf } from '../errors.js';
import type { RestrictionCache } from '../governance/restrictions.js';
import { loadBulkBudget, touchCustomers, windowCount } from '../governance/bulk-guard.js';
import { callerKey } from '../pipeline/decide.js';
import type { Db } from '../store/db.js';
import type { Logger } from '../logging.js';
import type { Metrics } from '../metrics/metrics.js';
import { emptyHits, maskDetected } from '../mask/detectors.js';
import type { Policy, PolicyHolder } from '../policy/compile.js';
import type { StatementAnalysis, StatementCatalogue } from '../policy/statement.js';
import { type DatabasePurposeView, withColumnTypes } from '../policy/database.js';
import { decideSession, purposesInOptions } from '../pipeline/decide-session.js';
import { backend, CANCEL_REQUEST, cString, FrameTooLarge, type FrontendMessage, FrontendReader, GSSENC_REQUEST, PROTOCOL_3, SSL_REQUEST, startupParameters } from './frames.js';
import type { ColumnCatalogue } from './catalogue.js';
import { Relay } from './relay.js';
import type { TlsAcceptor } from './tls-acceptor.js';
import { connectUpstream, type Upstream } from './upstream.js';

export interface SessionDeps {
  readonly policy: PolicyHolder;
  /** The store the bulk guard counts in (shared by every replica, as for HTTP). */
  readonly db: Db;
  readonly audit: AuditService;
  readonly restrictions: RestrictionCache;
  /** Where the TLS handshake after an SSLRequest happens (and the client's certificate is verified). */
  readonly tls: TlsAcceptor;
  readonly logger: Logger;
  /** Sessions by their cancel key (pid.secret), for CancelRequest. */
  readonly sessions: Map<string, Session>;
  readonly maxSessions: number;
  /** Table OID + attribute number → policy column, shared and kept current. */
  readonly catalogue: ColumnCatalogue;
  readonly metrics: Metrics;
}

/** A statement's literal-free text through the detectors, per analysis (analyses are cached per session). */
const maskedStatementText = new WeakMap<object, string>();

/** Client messages the relay forwards (the rest are handled by the session). */
const RELAYED = new Set(['Q', 'P', 'B', 'D', 'E', 'C', 'S', 'H']);

/** SQLSTATE for a refusal: authentication failures as such, everything else as a privilege error. */
function sqlState(code: ErrorCode): string {
  if (code.startsWith('CUSTODIAN_AUTH_') || code === 'CUSTODIAN_CLIENT_CERT_REQUIRED') return '28P01';
  if (code === 'CUSTODIAN_AUDIT_UNAVAILABLE') return '53000';
  return '42501';
}

/** The text of a refusal: the catalogue code and its fixed message — never request data. */
function refusalText(code: ErrorCode, hint?: string): string {
  return `${code}: ${messageOf(code)}${hint ? ` ${hint}` : ''}`;
}

/**
 * One client connection to the PostgreSQL listener: TLS is required (SSLRequest; GSSENC is
 * declined; a plaintext startup gets FATAL), the password carries a token, the purpose comes from
 * the startup options; then each simple-protocol statement is judged by the statement policy,
 * recorded before any row is released, forwarded on the gateway's own upstream connection, and
 * its rows masked column by column as they stream. Glue only: the decisions are decideSession,
 * analyzeStatement and planRows.
 */
export class Session {
  readonly id = randomUUID();
  readonly cancelKey: { pid: number; secret: number } = { pid: randomInt(1, 2 ** 31 - 1), secret: randomInt(0, 2 ** 31 - 1) };
  #socket: Socket;
  #reader: FrontendReader;
  #phase: 'startup' | 'password' | 'ready' | 'closed' = 'startup';
  #tls = false;
  #params = new Map<string, string>();
  #policy: Policy;
  #principal: Principal | undefined;
  #purpose: string | undefined;
  #upstream: Upstream | undefined;
  /** The purpose's statement catalogue, refined with the column types the database reported. */
  #catalogue: StatementCatalogue | undefined;
  #queue: FrontendMessage[] = [];
  /** Messages for the client written together at the end of this turn (see #send). */
  #outgoing: Buffer[] = [];
  #outgoingBytes = 0;
  /** The upstream paused because the client reads slowly: resumed once this turn's write drains. */
  #resumeWhenDrained: (() => void) | undefined;
  #relay: Relay | undefined;
  #busy = false;
  #statements = 0;

  constructor(
    socket: Socket,
    private readonly deps: SessionDeps,
  ) {
    this.#socket = socket;
    this.#policy = deps.policy.current;
    this.#reader = new FrontendReader(this.#policy.config.database?.maxMessageBytes ?? 1 << 20);
    this.#listen(socket);
  }

  #listen(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  #onData(chunk: Buffer): void {
    let messages: FrontendMessage[];
    try {
      messages = this.#reader.push(chunk);
    } catch (err) {
      if (err instanceof FrameTooLarge) this.#fatal('08P01', 'invalid message length');
      else this.close();
      return;
    }
    for (const m of messages) this.#queue.push(m);
    this.#drain();
  }

  /** Handle queued messages in order; one waiting for its decision record holds the rest back. */
  #drain(): void {
    while (!this.#busy && this.#queue.length > 0 && this.#phase !== 'closed') {
      const message = this.#queue.shift() as FrontendMessage;
      if (this.#phase === 'ready' && message.kind === 'typed' && this.#relay && RELAYED.has(message.type)) {
        // The common path, synchronous: an extended-protocol batch is forwarded in one go.
        if (message.type === 'Q' || message.type === 'E') this.#statements++;
        const waiting = this.#relay.fromClient(message.type, message.body);
        if (waiting) {
          this.#busy = true;
          waiting.then(
            () => this.#release(),
            (err: unknown) => {
              this.deps.logger.error({ err }, 'database session failed');
              this.#fatal('XX000', 'the gateway failed to process the message');
            },
          );
        }
        continue;
      }
      this.#busy = true;
      this.#handle(message).then(
        (async) => {
          if (!async) this.#release();
        },
        (err: unknown) => {
          this.deps.logger.error({ err }, 'database session failed');
          this.#fatal('XX000', 'the gateway failed to process the message');
        },
      );
    }
  }

  /** The message in hand is done: take the next one. */
  #release(): void {
    this.#busy = false;
    this.#drain();
  }

  /**
   * Queue a message for the client. Everything sent in one turn of the event loop leaves in one
   * write (one TLS record where it fits): a result's rows are many small messages, and a write
   * per row costs more than masking it. Returns false when the client is not keeping up.
   */
  #send(bytes: Buffer): boolean {
    if (this.#phase === 'closed' || this.#socket.destroyed) return false;
    if (this.#outgoing.length === 0) process.nextTick(() => this.#flushOutgoing());
    this.#outgoing.push(bytes);
    this.#outgoingBytes += bytes.length;
    return this.#socket.writableLength + this.#outgoingBytes < this.#socket.writableHighWaterMark;
  }

  #flushOutgoing(): void {
    const out = this.#outgoing;
    if (out.length === 0) return;
    const bytes = out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out, this.#outgoingBytes);
    this.#outgoing = [];
    this.#outgoingBytes = 0;
    if (this.#phase === 'closed' || this.#socket.destroyed) return;
    const flowing = this.#socket.write(bytes);
    const resume = this.#resumeWhenDrained;
    if (resume) {
      this.#resumeWhenDrained = undefined;
      if (flowing) resume();
      else this.#socket.once('drain', resume);
    }
  }

  /** End the session with a FATAL error; returns false (the message needs no more work). */
  #fatal(code: string, text: string): false {
    this.#send(backend.error('FATAL', code, text));
    this.#flushOutgoing();
    this.#socket.end();
    this.close();
    return false;
  }

  /** Returns true when the message completes later (the session is then released by whoever finishes it). */
  async #handle(message: FrontendMessage): Promise<boolean> {
    if (message.kind === 'startup') {
      this.#startup(message);
      return false;
    }
    switch (this.#phase) {
      case 'password':
        if (message.type !== 'p') return this.#fatal('08P01', 'expected a password message');
        await this.#authenticate(cString(message.body).value);
        return false;
      case 'ready':
        return this.#ready(message);
      default:
        return this.#fatal('08P01', 'unexpected message');
    }
  }

  #startup(message: Extract<FrontendMessage, { kind: 'startup' }>): void {
    if (message.code === SSL_REQUEST) {
      if (this.#tls) {
        this.#fatal('08P01', 'TLS is already in use');
        return;
      }
      // Bytes sent behind the SSLRequest would be plaintext the client thinks is encrypted.
      if (this.#reader.pending > 0 || this.#queue.length > 0) {
        this.#fatal('08P01', 'unexpected data after the SSL request');
        return;
      }
      this.#socket.write('S');
      this.#upgrade();
      return;
    }
    if (message.code === GSSENC_REQUEST) {
      this.#socket.write('N');
      return;
    }
    if (message.code === CANCEL_REQUEST) {
      const pid = message.body.readInt32BE(0);
      const secret = message.body.readInt32BE(4);
      // Only the session that owns the key is cancelled; a wrong key is silently ignored (as by PostgreSQL).
      this.deps.sessions.get(`${pid}.${secret}`)?.cancelRunning();
      this.#socket.end();
      this.close();
      return;
    }
    if (!this.#tls) {
        this.#fatal('28000', 'this listener requires TLS: connect with sslmode=require (or verify-full)');
        return;
      }
    if (message.code !== PROTOCOL_3) {
        this.#fatal('0A000', 'only protocol 3.0 is supported');
        return;
      }
    this.#params = startupParameters(message.body);
    if (this.deps.sessions.size >= this.deps.maxSessions) {
        this.#fatal('53300', 'too many database sessions through the gateway');
        return;
      }
    this.#phase = 'password';
    this.#send(backend.authenticationCleartextPassword());
  }

  #upgrade(): void {
    const plain = this.#socket;
    plain.removeAllListeners('data');
    this.#tls = true;
    // Nothing is read until the handshake is done; the plain socket's close still ends the session.
    this.deps.tls.accept(plain, (secure) => {
      if (this.#phase === 'closed') {
        secure.destroy();
        return;
      }
      this.#socket = secure;
      this.#reader = new FrontendReader(this.#policy.config.database?.maxMessageBytes ?? 1 << 20);
      this.#listen(secure);
    });
  }

  async #authenticate(password: string): Promise<void> {
    const socket = this.#socket as TLSSocket;
    const certificate = socket.authorized ? presentedCertificate(socket.getPeerCertificate()) : undefined;
    const decision = await decideSession(
      {
        password: password || undefined,
        optionPurposes: purposesInOptions(this.#params.get('options')),
        applicationName: this.#params.get('application_name'),
        certificate,
      },
      this.#policy,
    );
    if (!decision.allowed) {
      this.#principal = decision.principal;
      this.#purpose = decision.declaredPurpose;
      this.deps.metrics.refusals.inc({ code: decision.code });
      this.#countForApplication('deny');
      await this.#record('decision', { decision: 'deny', reason: decision.code, method: 'CONNECT' }).catch(() => undefined);
      this.#fatal(sqlState(decision.code), refusalText(decision.code, decision.hint));
      return;
    }
    this.#principal = decision.principal;
    this.#purpose = decision.purpose.config.id;
    const database = this.#policy.config.database;
    if (!database) {
        this.#fatal('08006', 'the database front end is not configured');
        return;
      }
    try {
      const [upstream, names] = await Promise.all([connectUpstream(database.upstream), this.deps.catalogue.ready()]);
      this.#upstream = upstream;
      this.#catalogue = withColumnTypes(decision.view, new Map([...names.values()].map((c) => [`${c.table}.${c.column}`, c.typeId])));
    } catch (err) {
      this.deps.logger.warn({ err }, 'database upstream unavailable');
      this.#fatal('08006', 'the loan database is unavailable');
      return;
    }
    if (this.#phase === 'closed') {
      await this.#upstream.close();
      return;
    }
    this.#relay = this.#startRelay(this.#upstream, decision.view, this.#catalogue ?? decision.view.catalogue);
    this.#phase = 'ready';
    this.deps.sessions.set(`${this.cancelKey.pid}.${this.cancelKey.secret}`, this);
    this.#send(backend.authenticationOk());
    for (const [name, value] of this.#upstream.parameters) this.#send(backend.parameterStatus(name, value));
    this.#send(backend.backendKeyData(this.cancelKey.pid, this.cancelKey.secret));
    this.#send(backend.readyForQuery('I'));
  }

  async #ready(message: Extract<FrontendMessage, { kind: 'typed' }>): Promise<boolean> {
    const relay = this.#relay;
    if (!relay) return this.#fatal('XX000', 'session not ready');
    switch (message.type) {
      case 'X':
        this.#flushOutgoing();
        this.#socket.end();
        this.close();
        return false;
      case 'F':
        // The fast-path function call runs a function by OID, around every statement check.
        if (!relay.idle) return this.#fatal('08P01', 'function calls are not allowed');
        this.#send(backend.error('ERROR', '42501', 'CUSTODIAN_STATEMENT_REFUSED: function calls by OID are not allowed through the gateway.'));
        this.#send(backend.readyForQuery(relay.txStatus));
        return false;
      default:
        // COPY data and anything else: nothing the statement policy allows produces these.
        return this.#fatal('08P01', 'unexpected message');
    }
  }

  /** The relay between this client and its upstream connection, with this session's policy. */
  #startRelay(upstream: Upstream, view: DatabasePurposeView, catalogue: StatementCatalogue): Relay {
    const database = this.#policy.database;
    let channel: ReturnType<Upstream['takeOver']> | undefined;
    const columns = this.deps.catalogue;
    const metrics = this.deps.metrics;
    const rows = metrics.databaseRows.labels(this.#purpose as string);
    const relay = new Relay({
      view,
      catalogue,
      tables: database?.tables ?? new Map(),
      get columnNames() {
        return columns.names;
      },
      get catalogueVersion() {
        return columns.version;
      },
      catalogueStale: () => columns.stale(),
      restrictions: this.deps.restrictions,
      purpose: this.#purpose as string,
      subjectsCap: this.#policy.config.audit.subjectsCap,
      toClient: (bytes) => this.#send(bytes),
      rowReleased: () => rows.inc(),
      toUpstream: (bytes) => channel?.write(bytes),
      recordAllow: async (statement) => {
        if (!this.deps.audit.canRecord()) throw new Error('audit unavailable');
        const limit = this.#purposeLimit();
        const caller = this.#principal ? callerKey(this.#principal) : '';
        const readsCustomers = statement.tables.some((t) => database?.tables.get(t)?.subject !== undefined);
        if (limit && readsCustomers) {
          // The bulk guard, as for a list response: at the limit nothing more; below it, new
          // customers are released only while the caller's budget lasts.
          const { count } = await windowCount(this.deps.db, caller, this.#purpose as string, limit.windowSeconds, []);
          if (count >= limit.refuseAt) {
            await this.#record('decision', { decision: 'deny', reason: 'CUSTODIAN_BULK_LIMIT', ...this.#statementFacts(statement) });
            return { refused: `CUSTODIAN_BULK_LIMIT: ${messageOf('CUSTODIAN_BULK_LIMIT')}` };
          }
        }
        await this.#record('decision', { decision: 'allow', reason: 'OK', ...this.#statementFacts(statement) });
        return limit && readsCustomers ? loadBulkBudget(this.deps.db, caller, this.#purpose as string, limit.windowSeconds, limit.refuseAt) : undefined;
      },
      bulkTouch: async (ids) => {
        const limit = this.#purposeLimit();
        if (!limit || !this.#principal) return;
        await touchCustomers(this.deps.db, callerKey(this.#principal), this.#purpose as string, ids, limit.windowSeconds).catch((err: unknown) => {
          // Counted or not, the rows are out; a session whose count cannot be stored ends here.
          this.deps.logger.error({ err }, 'bulk count of a database statement failed');
          this.#fatal('53000', 'the bulk count could not be stored');
        });
      },
      recordRefusal: (reason) => {
        metrics.databaseStatements.inc({ purpose: this.#purpose, decision: 'deny' });
        metrics.refusals.inc({ code: 'CUSTODIAN_STATEMENT_REFUSED' });
        this.#countForApplication('deny');
        return this.#record('decision', { decision: 'deny', reason: 'CUSTODIAN_STATEMENT_REFUSED', method: 'SQL', detail: { refusal: reason } });
      },
      recordCompletion: (o) => {
        metrics.databaseStatements.inc({ purpose: this.#purpose, decision: o.refusal ? 'deny' : 'allow' });
        if (o.refusal) metrics.refusals.inc({ code: 'CUSTODIAN_STATEMENT_REFUSED' });
        this.#countForApplication(o.refusal ? 'deny' : 'allow');
        const facts = this.#statementFacts(o.statement);
        void this.#record(
          'completion',
          {
            decision: o.refusal ? 'deny' : 'allow',
            reason: o.refusal ? 'CUSTODIAN_STATEMENT_REFUSED' : o.failed ? 'UPSTREAM_ERROR' : 'OK',
            ...facts,
            subjects: o.subjects.toRecord(this.#policy.config.masking),
            fields: o.report ? { ...o.report, detectorHits: { ...o.hits } } : undefined,
            latencyMs: Math.round((performance.now() - o.startedAt) * 100) / 100,
            detail: { ...facts.detail, rows: o.rows, restrictedRowsDropped: o.restrictedDropped || undefined, bulkRowsWithheld: o.bulkWithheld || undefined },
          },
          false,
        ).catch(() => undefined);
      },
      backpressure: () => {
        if (this.#resumeWhenDrained) return;
        channel?.pause();
        this.#resumeWhenDrained = () => channel?.resume();
      },
      cancelUpstream: () => upstream.cancel(),
    });
    channel = upstream.takeOver(
      (type, body) => {
        try {
          relay.fromUpstream(type, body);
        } catch (err) {
          this.deps.logger.warn({ err }, 'database upstream sent an unexpected message');
          this.#fatal('08P01', 'the loan database sent an unexpected message');
        }
      },
      () => this.#fatal('08006', 'the loan database closed the connection'),
    );
    return relay;
  }

  /** The bulk limit of this session's purpose, if it has one. */
  #purposeLimit() {
    return this.#purpose ? this.#policy.purposes.get(this.#purpose)?.config.bulkLimit : undefined;
  }

  /** What a statement's records say about it: its kind, literal-free text, tables, fingerprint. */
  #statementFacts(statement: Extract<StatementAnalysis, { ok: true }>) {
    // The same analysis is recorded for every run of a prepared statement: its masked text once.
    let path = maskedStatementText.get(statement);
    if (path === undefined) {
      path = maskDetected(statement.normalized, emptyHits());
      maskedStatementText.set(statement, path);
    }
    return {
      method: statement.kind.toUpperCase(),
      path,
      detail: { tables: statement.tables, fingerprint: statement.fingerprint } as Record<string, unknown>,
    };
  }

  /** Cancel the statement this session is running (a CancelRequest with this session's key). */
  cancelRunning(): void {
    if (this.#relay && !this.#relay.idle) this.#upstream?.cancel();
  }

  /** A session or statement of an application (`clients`), under the same counter as its HTTP requests. */
  #countForApplication(decision: 'allow' | 'deny'): void {
    const application = this.#principal?.application?.id;
    if (application) this.deps.metrics.applicationRequests.inc({ application, route: 'database', decision });
  }

  #record(type: 'decision' | 'completion', extra: Partial<AuditRecord>, durable = true): Promise<void> {
    const p = this.#principal;
    const record: AuditRecord = {
      v: 1,
      type,
      id: randomUUID(),
      time: new Date().toISOString(),
      requestId: `${this.id}/${this.#statements}`,
      caller: p ? { sub: p.subject, kind: p.kind, org: p.organisation, roles: p.roles, app: p.application?.id, endUser: p.application?.endUser } : undefined,
      purpose: this.#purpose,
      route: 'database',
      upstream: 'database',
      client: { ip: this.#clientIp() },
      tls: { version: this.#tlsVersion(), certFingerprint: p?.certificateThumbprint },
      ...extra,
    };
    if (!durable) {
      this.deps.audit.recordLater(record);
      return Promise.resolve();
    }
    return this.deps.audit.recordDecision(record);
  }

  #ip: string | undefined;
  #protocol: string | undefined;

  /** The client's address and TLS version, read once (every record of the session carries them). */
  #clientIp(): string {
    this.#ip ??= this.#socket.remoteAddress ?? '';
    return this.#ip;
  }

  #tlsVersion(): string | undefined {
    const socket = this.#socket as TLSSocket;
    if (this.#protocol === undefined && typeof socket.getProtocol === 'function') this.#protocol = socket.getProtocol() ?? undefined;
    return this.#protocol;
  }

  close(): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    this.deps.sessions.delete(`${this.cancelKey.pid}.${this.cancelKey.secret}`);
    this.#socket.destroy();
    void this.#upstream?.close(this.#relay !== undefined && !this.#relay.idle);
  }
}
