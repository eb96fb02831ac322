import type { Db } from '../store/db.js';
import { insertAuditBatch, setShippedSeq, shippedSeq } from '../store/audit-store.js';
import type { Journal } from './journal.js';
import { failureLabel, nextBackoff, Repeating } from './repeating.js';

export interface ShipperStatus {
  readonly shippedSeq: number;
  readonly lagRecords: number;
  readonly lastError: string | undefined;
  readonly failures: number;
}

/**
 * Copies journal records into the database in batches, at least once: the shipped position is
 * advanced only after the batch committed, and inserts are idempotent, so a crash between the
 * two re-sends a batch without duplicating it. While the database is down the journal keeps
 * accepting (the spool); shipping resumes by itself with backoff.
 */
export class Shipper {
  readonly #journal: Journal;
  readonly #db: Db;
  readonly #batch: number;
  #loop: Repeating | undefined;
  #backoffMs = 0;
  #status: ShipperStatus = { shippedSeq: 0, lagRecords: 0, lastError: undefined, failures: 0 };

  constructor(journal: Journal, db: Db, batch = 2000) {
    this.#journal = journal;
    this.#db = db;
    this.#batch = batch;
  }

  get status(): ShipperStatus {
    return { ...this.#status, lagRecords: this.#journal.health.headSeq - this.#status.shippedSeq };
  }

  /** Ship everything currently in the journal; resolves when caught up (or throws on DB error). */
  async shipOnce(): Promise<number> {
    let total = 0;
    let from = Math.max(this.#journal.health.shippedSeq, await shippedSeq(this.#db, this.#journal.instance));
    await this.#journal.markShipped(from);
    this.#status = { ...this.#status, shippedSeq: from };
    let records = await this.#journal.readAfter(from, this.#batch);
    while (records.length > 0) {
      const last = records.at(-1)?.seq ?? from;
      // Read the next batch from disk while this one is in the database.
      const next = this.#journal.readAfter(last, this.#batch);
      next.catch(() => undefined); // awaited below; an insert failure must not leave it unhandled
      await insertAuditBatch(this.#db, records);
      await setShippedSeq(this.#db, this.#journal.instance, last);
      await this.#journal.markShipped(last);
      this.#status = { ...this.#status, shippedSeq: last, lastError: undefined };
      total += records.length;
      from = last;
      records = await next;
    }
    return total;
  }

  /** Ship continuously every `intervalMs` (plus the backoff after a failure) until stop(). */
  start(intervalMs = 250): void {
    this.#loop = new Repeating(
      async () => {
        try {
          await this.shipOnce();
          this.#backoffMs = 0;
        } catch (err) {
          this.#backoffMs = nextBackoff(this.#backoffMs, 10_000);
          this.#status = { ...this.#status, failures: this.#status.failures + 1, lastError: failureLabel(err) };
        }
      },
      () => intervalMs + this.#backoffMs,
    );
    this.#loop.start();
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }
}
