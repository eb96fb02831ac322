import { randomBytes } from 'node:crypto';
import type { DatabaseTableConfig } from '../config/types.js';
import type { RestrictionCache } from '../governance/restrictions.js';
import type { BulkBudget } from '../governance/bulk-guard.js';
import { type DetectorHits, emptyHits, maskDetected } from '../mask/detectors.js';
import type { DatabasePurposeView } from '../policy/database.js';
import { analyzeStatement, type StatementAnalysis, type StatementCatalogue } from '../policy/statement.js';
import { SubjectSet } from '../audit/subjects.js';
import { backend, cString, message } from './frames.js';
import { bindWithResultFormats, decodeBind, decodeExecute, executeBody, resultFormatOf, decodeFields, decodeParse, decodeRowDescription, decodeTarget } from './messages.js';
import { inClientFormats, planRows, releaseRow, rowSubject, type RowPlan, serverResultFormats } from './result-masker.js';
import type { ColumnNames, UpstreamField } from './upstream.js';

type Allowed = Extract<StatementAnalysis, { ok: true }>;

/** What one executed statement produced, for its completion record. */
export interface StatementOutcome {
  readonly statement: Allowed;
  readonly rows: number;
  readonly restrictedDropped: number;
  readonly bulkWithheld: number;
  readonly subjects: SubjectSet;
  readonly report: RowPlan['report'] | undefined;
  readonly hits: DetectorHits;
  readonly refusal: string | undefined;
  readonly failed: boolean;
  readonly startedAt: number;
}

/** The session's side of the relay: the policy decisions and the records. */
export interface RelayHost {
  readonly view: DatabasePurposeView;
  readonly catalogue: StatementCatalogue;
  readonly tables: ReadonlyMap<string, DatabaseTableConfig>;
  /** The current catalogue mapping, and its version (plans made from an older one are made again). */
  readonly columnNames: ColumnNames;
  readonly catalogueVersion: number;
  /** A result named a column the mapping lacks: have it re-read. */
  catalogueStale(): void;
  readonly restrictions: RestrictionCache;
  readonly purpose: string;
  readonly subjectsCap: number;
  toClient(bytes: Buffer): boolean;
  /** One row released (for the rows metric). */
  rowReleased(): void;
  toUpstream(bytes: Buffer): void;
  /**
   * Durable decision record before a statement runs; rejects when it cannot be recorded. Resolves
   * with the caller's bulk budget when the purpose has a bulk limit (new customers this statement
   * may still return), or a refusal reason when the caller is already at the limit.
   */
  recordAllow(statement: Allowed): Promise<BulkBudget | undefined | { refused: string }>;
  /** Count the customers a statement released toward the caller's bulk window (resolves when stored). */
  bulkTouch(ids: readonly string[]): Promise<void>;
  recordRefusal(reason: string): Promise<void>;
  recordCompletion(outcome: StatementOutcome): void;
  /** The client reads slower than the server answers: hold the upstream until it drains. */
  backpressure(): void;
  cancelUpstream(): void;
}

/** A result being released: its row plan and what it has done so far. */
class Execution {
  rows = 0;
  restrictedDropped = 0;
  bulkWithheld = 0;
  budget: BulkBudget | undefined;
  /** Every customer released, uncapped, for the bulk count. */
  readonly released = new Set<string>();
  failed = false;
  refusal: string | undefined;
  plan: RowPlan | undefined;
  readonly hits = emptyHits();
  readonly subjects: SubjectSet;
  readonly startedAt = performance.now();
  constructor(
    readonly statement: Allowed,
    cap: number,
    /** The portal it runs (extended protocol), whose description gives the row plan. */
    readonly portal?: string,
    /** The client's row limit for this Execute (0: all rows). */
    readonly maxRows = 0,
  ) {
    this.subjects = new SubjectSet(cap);
  }
}

/** A row description and the plan made from it with one version of the catalogue. */
interface Planned {
  readonly fields: readonly UpstreamField[];
  readonly version: number;
  readonly result: ReturnType<typeof planRows>;
}

/** A prepared statement or portal as the relay knows it. */
interface Described {
  readonly analysis: Allowed;
  /** The row plan of its description (planned once, used by every execution while the catalogue stands). */
  planned?: Planned;
  /** A portal's result format per column as its client asked (its descriptions are given so). */
  readonly clientFormat?: (i: number) => number;
}

/** What the server will answer to each message forwarded, in order. */
type Pending =
  | { kind: 'query'; execution: Execution | undefined }
  | { kind: 'parse' }
  | { kind: 'bind' }
  | { kind: 'describe'; target: 'S' | 'P'; name: string; swallow: boolean }
  | { kind: 'execute'; execution: Execution }
  | { kind: 'close' }
  | { kind: 'sync' };


const REFUSED_MARK = 'custodian_refused_';

/**
 * The message-level proxy between one client and its upstream connection, for the simple and
 * the extended query protocol. Client messages are inspected and forwarded in order; the server's
 * answers are matched to them through a queue of what each message will produce, so that row
 * descriptions and rows are rewritten with the right plan, and refusals injected in the middle of
 * an extended-protocol batch arrive in the right order: a refused Parse (or Bind) is forwarded as
 * one the server itself rejects, whose error is then replaced by the gateway's refusal — and the
 * server discards the rest of the batch up to Sync, exactly as for any error.
 */
export class Relay {
  readonly #pending: Pending[] = [];
  /** Statements and portals, each with the row plan of its description once the server gave it. */
  readonly #statements = new Map<string, Described>();
  readonly #portals = new Map<string, Described>();
  readonly #refusals = new Map<string, string>();
  readonly #analyses = new Map<string, StatementAnalysis>();
  /** After an error the server discards until Sync; so does the relay with the server's output. */
  #discarding = false;
  /** Server messages held back while a statement's customers are being counted. */
  #held: Promise<void> | undefined;
  readonly #heldMessages: [string, Buffer][] = [];
  /** Binds held until a statement's description arrives (see #bind). */
  #planWaiters: (() => void)[] = [];
  /** The server reported an error in an extended-protocol batch and skips to the next Sync. */
  #skipping = false;
  txStatus: 'I' | 'T' | 'E' = 'I';

  constructor(private readonly host: RelayHost) {}

  get idle(): boolean {
    return this.#pending.length === 0;
  }

  /** Parse results cached by statement text (bounded). */
  #analyze(text: string): StatementAnalysis {
    const cached = this.#analyses.get(text);
    if (cached) return cached;
    const analysis = analyzeStatement(text, this.host.catalogue);
    if (this.#analyses.size >= 512) this.#analyses.clear();
    this.#analyses.set(text, analysis);
    return analysis;
  }

  /** A refusal marker the server will quote back in its error, replaced by the gateway's text. */
  #refusalMark(reason: string): string {
    const mark = `${REFUSED_MARK}${randomBytes(6).toString('hex')}`;
    this.#refusals.set(mark, reason);
    return mark;
  }

  #refusalError(reason: string): Buffer {
    return backend.error('ERROR', '42501', `CUSTODIAN_STATEMENT_REFUSED: ${reason}`);
  }

  /**
   * One message from the client: forwarded (or answered) at once, or — when a decision record
   * must be durable first (a query, an Execute) — once the returned promise resolves. Refusal
   * records are written in the background: a refusal releases nothing.
   */
  fromClient(type: string, body: Buffer): Promise<void> | undefined {
    const host = this.host;
    switch (type) {
      case 'Q': {
        const text = cString(body).value;
        const analysis = this.#analyze(text);
        if (!analysis.ok || analysis.kind === 'empty') {
          if (!analysis.ok) host.recordRefusal(analysis.reason).catch(() => undefined);
          // Nothing is pending (a simple query is not part of a batch): answer without the server.
          host.toClient(analysis.ok ? backend.emptyQueryResponse() : this.#refusalError(`${analysis.detail}.`));
          host.toClient(backend.readyForQuery(this.txStatus));
          return;
        }
        const execution = new Execution(analysis, host.subjectsCap);
        return this.#recorded(execution).then((ok) => {
          if (!ok) return;
          this.#pending.push({ kind: 'query', execution });
          host.toUpstream(message('Q', body));
        });
      }
      case 'P': {
        const parse = decodeParse(body);
        const analysis = this.#analyze(parse.query);
        this.#pending.push({ kind: 'parse' });
        if (!analysis.ok || analysis.kind === 'empty') {
          this.#statements.delete(parse.name);
          const reason = analysis.ok ? 'empty statement' : `${analysis.detail}.`;
          if (!analysis.ok) host.recordRefusal(analysis.reason).catch(() => undefined);
          host.toUpstream(message('P', Buffer.concat([Buffer.from(`${parse.name}\0${this.#refusalMark(reason)}\0`), Buffer.from([0, 0])])));
          return;
        }
        this.#statements.set(parse.name, { analysis });
        host.toUpstream(message('P', body));
        return;
      }
      case 'B':
        return this.#bind(body);
      case 'D': {
        const target = decodeTarget(body);
        this.#pending.push({ kind: 'describe', target: target.kind, name: target.name, swallow: false });
        host.toUpstream(message('D', body));
        return;
      }
      case 'E': {
        const { portal, maxRows } = decodeExecute(body);
        const bound = this.#portals.get(portal);
        if (!bound) {
          // Unknown to the relay (never bound, or its statement was refused): the server answers.
          this.#pending.push({ kind: 'execute', execution: new Execution({ ok: true, kind: 'select', tables: [], normalized: '', fingerprint: '' }, host.subjectsCap) });
          host.toUpstream(message('E', body));
          return;
        }
        if (!bound.planned) {
          // The rows need their description to be masked: ask for it, and keep the answer.
          this.#pending.push({ kind: 'describe', target: 'P', name: portal, swallow: true });
          host.toUpstream(message('D', Buffer.from(`P${portal}\0`)));
        }
        const execution = new Execution(bound.analysis, host.subjectsCap, portal, maxRows);
        return this.#recorded(execution, portal).then((ok) => {
          if (!ok) return;
          this.#pending.push({ kind: 'execute', execution });
          host.toUpstream(message('E', body));
        });
      }
      case 'C': {
        const target = decodeTarget(body);
        if (target.kind === 'S') this.#statements.delete(target.name);
        else this.#portals.delete(target.name);
        this.#pending.push({ kind: 'close' });
        host.toUpstream(message('C', body));
        return;
      }
      case 'S':
        this.#pending.push({ kind: 'sync' });
        host.toUpstream(message('S', body));
        return;
      case 'H':
        host.toUpstream(message('H', body));
        return;
      default:
        throw new Error(`unexpected client message ${type}`);
    }
  }

  #wakePlanWaiters(): void {
    for (const wake of this.#planWaiters.splice(0)) wake();
  }

  /** A Bind: forwarded asking the server for the result formats the relay can release. */
  #bind(body: Buffer, described = false): Promise<void> | undefined {
    const host = this.host;
    const bind = decodeBind(body);
    const statement = this.#statements.get(bind.statement);
    if (bind.resultFormats.includes(1) && statement && !statement.planned && !described) {
      // The client asks for binary before the statement's description came back (pgjdbc sends
      // Parse, Describe and Bind in one batch): ask the server for it and hold the Bind until then.
      this.#pending.push({ kind: 'describe', target: 'S', name: bind.statement, swallow: true });
      host.toUpstream(message('D', Buffer.from(`S${bind.statement}\0`)));
      host.toUpstream(message('H', Buffer.alloc(0)));
      return new Promise<void>((resolve) => this.#planWaiters.push(resolve)).then(() => this.#bind(body, true));
    }
    this.#pending.push({ kind: 'bind' });
    if (bind.resultFormats.includes(1)) {
      // Binary results (pgjdbc after five runs of a statement; drivers that use binary
      // throughout): columns released as they are come in the client's format, byte for
      // byte; the ones the gateway rewrites are asked for as text. That needs the statement's
      // description; without it, refused rather than passed through.
      const planned = this.#storedPlan(statement);
      if (!statement?.planned || !planned?.ok) {
        this.#portals.delete(bind.portal);
        const reason = planned && !planned.ok ? `${planned.reason}.` : 'binary results need the statement described first, or ask for text.';
        const mark = this.#refusalMark(reason);
        host.toUpstream(message('B', Buffer.from(`${bind.portal}\0${mark}\0\0\0\0\0\0\0`)));
        return undefined;
      }
      const clientFormat = (i: number) => resultFormatOf(bind, i);
      const formats = serverResultFormats(planned.plan, clientFormat);
      const fields = statement.planned.fields.map((f, i) => ({ ...f, format: formats[i] === 1 ? ('binary' as const) : ('text' as const) }));
      this.#portals.set(bind.portal, { analysis: statement.analysis, planned: this.#plan(fields), clientFormat });
      host.toUpstream(message('B', bindWithResultFormats(body, bind, formats)));
      return undefined;
    }
    if (statement) this.#portals.set(bind.portal, { analysis: statement.analysis, planned: statement.planned });
    else this.#portals.delete(bind.portal);
    host.toUpstream(message('B', bindWithResultFormats(body, bind)));
    return undefined;
  }

  /** Record before release; when the record cannot be made (or the bulk limit is reached), the statement is not run. */
  async #recorded(execution: Execution, portal?: string): Promise<boolean> {
    let refusal: string;
    try {
      const result = await this.host.recordAllow(execution.statement);
      if (!(result && 'refused' in result)) {
        execution.budget = result;
        return true;
      }
      refusal = result.refused;
    } catch {
      refusal = 'CUSTODIAN_AUDIT_UNAVAILABLE: the access record could not be made durable, so no data is released.';
    }
    if (portal === undefined) {
      this.host.toClient(this.#refusalError(refusal));
      this.host.toClient(backend.readyForQuery(this.txStatus));
    } else {
      this.#pending.push({ kind: 'execute', execution: new Execution(execution.statement, this.host.subjectsCap) });
      this.host.toUpstream(message('E', Buffer.from(`${this.#refusalMark(refusal)}\0\0\0\0\0`)));
    }
    return false;
  }

  /**
   * A cursor page (Execute with a row limit) from which restricted or withheld rows were left out
   * would reach the client short — an empty page reads as the end of the result. When nothing
   * else is waiting on the server, the relay asks it for as many more rows as were left out and
   * keeps the page open; otherwise the page is released short.
   */
  #refill(execution: Execution): boolean {
    const missing = execution.maxRows - execution.rows;
    if (execution.maxRows <= 0 || missing <= 0 || execution.portal === undefined || execution.refusal) return false;
    if (execution.restrictedDropped + execution.bulkWithheld === 0 || this.#pending.length !== 1) return false;
    this.host.toUpstream(message('E', executeBody(execution.portal, missing)));
    this.host.toUpstream(message('H', Buffer.alloc(0)));
    return true;
  }

  #plan(fields: readonly UpstreamField[]): Planned {
    const version = this.host.catalogueVersion;
    const result = planRows(fields, this.host.columnNames, this.host.view, this.host.tables);
    if (!result.ok && result.unknownColumns) this.host.catalogueStale();
    return { fields, version, result };
  }

  /** A stored plan, made again if the catalogue changed since (a migration renamed or swapped columns). */
  #storedPlan(described: Described | undefined): ReturnType<typeof planRows> | undefined {
    const planned = described?.planned;
    if (!planned || !described) return undefined;
    if (planned.version === this.host.catalogueVersion) return planned.result;
    described.planned = this.#plan(planned.fields);
    return described.planned.result;
  }

  /** The execution whose rows are arriving now, and its plan. */
  #current(): Execution | undefined {
    const head = this.#pending[0];
    if (head?.kind === 'query') return head.execution;
    if (head?.kind === 'execute') return head.execution;
    return undefined;
  }

  #complete(execution: Execution | undefined): void {
    if (!execution || execution.statement.normalized === '') return;
    if (execution.released.size > 0) {
      // The count is stored before the client hears the statement is over, so its next statement
      // (on any replica) sees it: the server's answers wait meanwhile.
      const ids = [...execution.released];
      execution.released.clear();
      this.#held = this.host.bulkTouch(ids).then(() => {
        const held = this.#heldMessages.splice(0);
        this.#held = undefined;
        for (const [type, body] of held) this.fromUpstream(type, body);
      });
    }
    this.host.recordCompletion({
      statement: execution.statement,
      rows: execution.rows,
      restrictedDropped: execution.restrictedDropped,
      bulkWithheld: execution.bulkWithheld,
      subjects: execution.subjects,
      report: execution.plan?.report,
      hits: execution.hits,
      refusal: execution.refusal,
      failed: execution.failed,
      startedAt: execution.startedAt,
    });
  }

  /** One message from the server. */
  fromUpstream(type: string, body: Buffer): void {
    if (this.#held) {
      this.#heldMessages.push([type, Buffer.from(body)]);
      return;
    }
    const host = this.host;
    const head = this.#pending[0];
    if (this.#discarding && type !== 'Z' && type !== 'N' && type !== 'S' && type !== 'A') return;
    switch (type) {
      case '1':
      case '2':
      case '3':
        this.#pending.shift();
        host.toClient(message(type, body));
        return;
      case 't':
        if (head?.kind === 'describe' && !head.swallow) host.toClient(message(type, body));
        return;
      case 'n':
        this.#pending.shift();
        this.#wakePlanWaiters();
        if (head?.kind === 'describe' && !head.swallow) host.toClient(message(type, body));
        return;
      case 'T': {
        const fields = decodeRowDescription(body);
        const stored = this.#plan(fields);
        const planned = stored.result;
        if (head?.kind === 'describe') {
          this.#pending.shift();
          const entry = head.target === 'S' ? this.#statements.get(head.name) : this.#portals.get(head.name);
          if (entry) entry.planned = stored;
          this.#wakePlanWaiters();
          if (head.swallow) return;
          if (!planned.ok) {
            // The statement cannot be released: refused here, and the rest of the batch discarded.
            host.toClient(this.#refusalError(`${planned.reason}.`));
            // The server goes on with the batch; its answers are dropped up to the Sync's.
            this.#discarding = true;
            this.#skipping = true;
            return;
          }
          host.toClient(backend.rowDescription(entry?.clientFormat ? inClientFormats(planned.plan.fields, entry.clientFormat) : planned.plan.fields));
          return;
        }
        const execution = this.#current();
        if (!execution) return;
        if (!planned.ok) {
          execution.refusal = planned.reason;
          host.cancelUpstream();
          return;
        }
        execution.plan = planned.plan;
        host.toClient(backend.rowDescription(planned.plan.fields));
        return;
      }
      case 'D': {
        const execution = this.#current();
        if (!execution || execution.refusal) return;
        if (!execution.plan) {
          const planned = execution.portal === undefined ? undefined : this.#storedPlan(this.#portals.get(execution.portal));
          if (!planned?.ok) {
            execution.refusal = planned && !planned.ok ? planned.reason : 'the result could not be described';
            host.cancelUpstream();
            return;
          }
          execution.plan = planned.plan;
        }
        const plan = execution.plan;
        if (plan.subjectIndex !== undefined) {
          const id = rowSubject(plan, body);
          if (id !== null && id !== undefined) {
            if (host.restrictions.restricts(id, host.purpose)) {
              execution.restrictedDropped++;
              return;
            }
            if (execution.budget && !execution.budget.admits(id)) {
              execution.bulkWithheld++;
              return;
            }
            execution.subjects.add(id);
            if (execution.budget) execution.released.add(id);
          }
        }
        const row = releaseRow(plan, body, execution.hits);
        execution.rows++;
        host.rowReleased();
        if (!host.toClient(row)) host.backpressure();
        return;
      }
      case 'C': {
        const execution = this.#current();
        const tag = cString(body).value;
        if (head?.kind === 'execute') this.#pending.shift();
        if (execution?.refusal) {
          // A refused simple query gets its error with its ReadyForQuery (one error per query).
          if (head?.kind === 'execute') host.toClient(this.#refusalError(`${execution.refusal}.`));
        } else host.toClient(backend.commandComplete(/^SELECT \d+$/.test(tag) && execution ? `SELECT ${execution.rows}` : tag));
        if (head?.kind === 'execute') this.#complete(execution);
        return;
      }
      case 's':
        if (head?.kind === 'execute' && this.#refill(head.execution)) return;
        if (head?.kind === 'execute') {
          this.#pending.shift();
          this.#complete(head.execution);
        }
        host.toClient(message(type, body));
        return;
      case 'I':
        if (head?.kind === 'execute') {
          this.#pending.shift();
          this.#complete(head.execution);
        }
        host.toClient(message(type, body));
        return;
      case 'E': {
        this.#wakePlanWaiters();
        const fields = decodeFields(body);
        const text = [...fields.values()].join(' ');
        const mark = [...this.#refusals.keys()].find((m) => text.includes(m));
        const execution = this.#current();
        if (execution) execution.failed = true;
        if (mark) {
          host.toClient(this.#refusalError(this.#refusals.get(mark) as string));
          this.#refusals.delete(mark);
        } else if (!execution?.refusal) {
          // Server errors can quote values (a failed cast echoes its input): through the detectors.
          const hits = execution?.hits ?? emptyHits();
          const safe = new Map<string, string>();
          for (const [code, value] of fields) safe.set(code, 'SVCRPp'.includes(code) ? value : maskDetected(value, hits));
          host.toClient(backend.fields('E', safe));
        }
        // Extended protocol: the server skips everything up to the next Sync (which the client
        // may not even have sent yet); the answers expected until then are dropped at its
        // ReadyForQuery.
        if (head?.kind !== 'query') this.#skipping = true;
        return;
      }
      case 'Z': {
        this.#wakePlanWaiters();
        const status = String.fromCharCode(body[0] as number);
        this.txStatus = status === 'T' || status === 'E' ? status : 'I';
        this.#discarding = false;
        if (this.#skipping) {
          this.#skipping = false;
          while (this.#pending.length > 0 && this.#pending[0]?.kind !== 'sync' && this.#pending[0]?.kind !== 'query') {
            const skipped = this.#pending.shift();
            if (skipped?.kind === 'execute') {
              skipped.execution.failed = true;
              this.#complete(skipped.execution);
            }
          }
          this.fromUpstream(type, body);
          return;
        }
        if (head?.kind === 'query') {
          if (head.execution?.refusal) host.toClient(this.#refusalError(`${head.execution.refusal}.`));
          this.#complete(head.execution);
        }
        if (head?.kind === 'query' || head?.kind === 'sync') this.#pending.shift();
        host.toClient(message(type, body));
        return;
      }
      case 'N': {
        const safe = new Map<string, string>();
        for (const [code, value] of decodeFields(body)) safe.set(code, 'SVCRPp'.includes(code) ? value : maskDetected(value, emptyHits()));
        host.toClient(backend.fields('N', safe));
        return;
      }
      case 'S':
      case 'A':
        host.toClient(message(type, body));
        return;
      default:
        // COPY and anything else the statement policy does not allow should never start.
        throw new Error(`unexpected server message ${type}`);
    }
  }
}
