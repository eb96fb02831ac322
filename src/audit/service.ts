import { randomUUID } from 'node:crypto';
import { stat, unlink } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import type { Db } from '../store/db.js';
import { partitionFor } from '../store/migrations.js';
import { signCheckpoint } from './checkpoint.js';
import { Journal, type JournalHealth } from './journal.js';
import { listSegments } from './segments.js';
import type { AuditRecord } from './record.js';
import { Shipper, type ShipperStatus } from './shipper.js';

export interface AuditOptions {
  readonly journalDir: string;
  readonly instance: string;
  readonly budgetBytes: number;
  readonly segmentBytes: number;
  readonly durability: 'before_release' | 'async';
  readonly checkpointKey: KeyObject;
  readonly checkpointEveryRecords: number;
  readonly checkpointEverySeconds: number;
  readonly retentionDays: number;
  readonly localTail: { readonly maxBytes: number; readonly maxAgeMs: number; readonly checkEveryMs: number };
  readonly shipIntervalMs: number;
}

export interface AuditHealth {
  readonly journal: JournalHealth;
  readonly shipper: ShipperStatus;
  readonly asyncFailures: number;
}

/**
 * The audit trail of one gateway instance: journal (durable, chained), shipper (to the
 * database), signed checkpoints and retention. The HTTP glue only calls record*().
 */
export class AuditService {
  readonly journal: Journal;
  readonly shipper: Shipper;
  readonly options: AuditOptions;
  readonly #db: Db;
  #sinceCheckpoint = 0;
  #asyncFailures = 0;
  #timers: NodeJS.Timeout[] = [];

  private constructor(journal: Journal, db: Db, options: AuditOptions) {
    this.journal = journal;
    this.#db = db;
    this.options = options;
    this.shipper = new Shipper(journal, db);
  }

  static async start(db: Db, options: AuditOptions): Promise<AuditService> {
    const journal = await Journal.open({
      dir: options.journalDir,
      instance: options.instance,
      budgetBytes: options.budgetBytes,
      segmentBytes: options.segmentBytes,
    });
    const service = new AuditService(journal, db, options);
    service.shipper.start(options.shipIntervalMs);
    const every = (ms: number, fn: () => Promise<unknown>) => {
      const t = setInterval(() => void fn().catch(() => undefined), ms);
      t.unref();
      service.#timers.push(t);
    };
    every(options.checkpointEverySeconds * 1000, () => service.checkpoint());
    every(6 * 3600 * 1000, () => service.purgeExpired(new Date()));
    every(options.localTail.checkEveryMs, () => service.trimShipped(Date.now()));
    void service.purgeExpired(new Date()).catch(() => undefined);
    return service;
  }

  get health(): AuditHealth {
    return { journal: this.journal.health, shipper: this.shipper.status, asyncFailures: this.#asyncFailures };
  }

  /** Whether a request for customer data may proceed (the journal can take its record). */
  canRecord(): boolean {
    return this.journal.canAccept();
  }

  /**
   * Record a decision. With `before_release` durability the promise resolves once the record is
   * fsync'd; with `async` it resolves at once and a failure is only counted (documented as weaker).
   */
  async recordDecision(record: AuditRecord): Promise<void> {
    if (this.options.durability === 'before_release') {
      await this.#append(record);
    } else {
      // Nobody waits: written now, synced with the next group (within the journal's sync delay).
      this.#append(record, false).catch(() => {
        this.#asyncFailures++;
      });
    }
  }

  /** Record something whose release does not wait on it (completion facts): no fsync of its own. */
  recordLater(record: AuditRecord): void {
    this.#append(record, false).catch(() => {
      this.#asyncFailures++;
    });
  }

  async #append(record: AuditRecord, durable = true): Promise<void> {
    await this.journal.append(record, durable);
    if (++this.#sinceCheckpoint >= this.options.checkpointEveryRecords) void this.checkpoint().catch(() => undefined);
  }

  /** Resolves once every record appended so far is written to the journal. */
  flush(): Promise<void> {
    return this.journal.flushed();
  }

  /** Append a checkpoint: the current head, signed with the Ed25519 key. */
  async checkpoint(): Promise<void> {
    const head = this.journal.head;
    if (head.seq === 0 || this.#sinceCheckpoint === 0) return;
    this.#sinceCheckpoint = 0;
    const time = new Date().toISOString();
    const jws = await signCheckpoint({ instance: this.journal.instance, seq: head.seq, hash: head.hash, time }, this.options.checkpointKey);
    await this.journal.append({ v: 1, type: 'checkpoint', id: randomUUID(), time, detail: { seq: head.seq, hash: head.hash, jws } });
  }

  /** Bytes of journal segments on this pod's disk (for the disk metrics). */
  localBytes = 0;

  /**
   * The journal is this pod's spool, not the archive: segments wholly shipped to the database are
   * deleted once they fall outside the configured local tail (newest first, up to maxBytes, none
   * older than maxAgeMs). Unshipped segments and the segment being written are never deleted.
   * Each trim that deletes is itself a purge record, so `audit verify` can account for the missing start.
   */
  async trimShipped(now: number): Promise<void> {
    const segments = await listSegments(this.journal.dir, this.journal.instance);
    const shipped = this.journal.health.shippedSeq;
    const tail = this.options.localTail;
    let kept = 0;
    let local = 0;
    const deleted: { firstSeq: number; lastSeq: number }[] = [];
    for (let i = segments.length - 1; i >= 0; i--) {
      const segment = segments[i] as { file: string; firstSeq: number };
      const info = await stat(segment.file).catch(() => undefined);
      if (!info) continue;
      const next = segments[i + 1];
      const lastSeq = next ? next.firstSeq - 1 : undefined;
      const wholeShipped = lastSeq !== undefined && lastSeq <= shipped;
      if (wholeShipped) kept += info.size;
      if (!wholeShipped || (kept <= tail.maxBytes && now - info.mtimeMs <= tail.maxAgeMs)) {
        local += info.size;
        continue;
      }
      await unlink(segment.file);
      deleted.push({ firstSeq: segment.firstSeq, lastSeq: lastSeq as number });
    }
    if (deleted.length > 0) {
      // One purge record per trim, naming the range (a record per segment would itself fill segments).
      await this.journal.append({
        v: 1,
        type: 'purge',
        id: randomUUID(),
        time: new Date(now).toISOString(),
        detail: {
          what: 'journal segment',
          reason: 'shipped',
          segments: deleted.length,
          firstSeq: Math.min(...deleted.map((d) => d.firstSeq)),
          lastSeq: Math.max(...deleted.map((d) => d.lastSeq)),
        },
      });
    }
    this.localBytes = local;
  }

  /**
   * Retention: database partitions of months wholly before the retention period are dropped
   * (the journal keeps only a short local tail, see trimShipped). Every purge is itself an audit
   * record.
   */
  async purgeExpired(now: Date): Promise<void> {
    const cutoff = new Date(now.getTime() - this.options.retentionDays * 86400_000);
    const oldest = partitionFor(cutoff);
    const partitions = await this.#db.query<{ relname: string }>(
      "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'audit_events'",
    );
    for (const { relname } of partitions.rows) {
      if (!/^audit_events_y\d{4}m\d{2}$/.test(relname) || relname >= oldest.name) continue;
      await this.#db.exec(`DROP TABLE IF EXISTS ${relname}`);
      await this.journal.append({ v: 1, type: 'purge', id: randomUUID(), time: now.toISOString(), detail: { what: 'database partition', partition: relname, before: cutoff.toISOString() } });
    }
  }

  /** Flush, write a last checkpoint, ship what can be shipped, stop. */
  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    await this.checkpoint().catch(() => undefined);
    await this.shipper.stop();
    await this.shipper.shipOnce().catch(() => undefined);
    await this.journal.close();
  }
}
