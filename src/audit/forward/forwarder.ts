import type { Db } from '../../store/db.js';
import type { ForwardedRecord, ForwardTarget } from './target.js';
import { failureLabel, nextBackoff, Repeating } from '../repeating.js';

export interface ForwardStatus {
  readonly target: string;
  readonly forwardedSeq: number;
  readonly failures: number;
  readonly lastError: string | undefined;
}

/**
 * Forwards this instance's audit records, as they reach the database, to each target in chain
 * order. Each target has its own position in the store (audit_forward_state), advanced only after
 * the target confirmed a batch; a target that is down is retried with backoff and catches up
 * from where it was, without holding the others back.
 */
interface Lane {
  readonly target: ForwardTarget;
  status: ForwardStatus;
  backoffMs: number;
  retryAt: number;
}

export class Forwarder {
  readonly #db: Db;
  readonly #instance: string;
  readonly #batch: number;
  readonly #lanes: Lane[];
  #loop: Repeating | undefined;

  constructor(db: Db, instance: string, targets: readonly ForwardTarget[], batch = 2000) {
    this.#db = db;
    this.#instance = instance;
    this.#batch = batch;
    this.#lanes = targets.map((target) => ({ target, status: { target: target.name, forwardedSeq: 0, failures: 0, lastError: undefined }, backoffMs: 0, retryAt: 0 }));
  }

  get status(): readonly ForwardStatus[] {
    return this.#lanes.map((l) => l.status);
  }

  /** Forward what is in the database now, for every target not backing off; resolves when done. */
  async forwardOnce(now = Date.now()): Promise<void> {
    for (const lane of this.#lanes) {
      if (now < lane.retryAt) continue;
      try {
        await this.#catchUp(lane);
        lane.backoffMs = 0;
        lane.status = { ...lane.status, lastError: undefined };
      } catch (err) {
        lane.backoffMs = nextBackoff(lane.backoffMs, 30_000);
        lane.retryAt = Date.now() + lane.backoffMs;
        lane.status = { ...lane.status, failures: lane.status.failures + 1, lastError: failureLabel(err) };
      }
    }
  }

  async #catchUp(lane: Lane): Promise<void> {
    let from = await this.#position(lane.target.name);
    lane.status = { ...lane.status, forwardedSeq: from };
    for (;;) {
      const records = await this.#read(from);
      if (records.length === 0) return;
      await lane.target.deliver(records);
      from = (records.at(-1) as ForwardedRecord).seq;
      await this.#db.query(
        `INSERT INTO audit_forward_state (instance_id, target, forwarded_seq) VALUES ($1, $2, $3)
         ON CONFLICT (instance_id, target) DO UPDATE SET forwarded_seq = EXCLUDED.forwarded_seq, updated_at = now()`,
        [this.#instance, lane.target.name, from],
      );
      lane.status = { ...lane.status, forwardedSeq: from };
    }
  }

  async #position(target: string): Promise<number> {
    const { rows } = await this.#db.query<{ forwarded_seq: string | number }>('SELECT forwarded_seq FROM audit_forward_state WHERE instance_id = $1 AND target = $2', [this.#instance, target]);
    return Number(rows[0]?.forwarded_seq ?? 0);
  }

  async #read(after: number): Promise<ForwardedRecord[]> {
    const { rows } = await this.#db.query<{ seq: string | number; occurred_at: Date | string; type: string; decision: string | null; hash: string; record_text: string }>(
      'SELECT seq, occurred_at, type, decision, hash, record_text FROM audit_events WHERE instance_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
      [this.#instance, after, this.#batch],
    );
    // Only an unbroken run: a gap is a record not shipped yet (batches commit in order per instance).
    const out: ForwardedRecord[] = [];
    let expected = after + 1;
    for (const r of rows) {
      if (Number(r.seq) !== expected) break;
      out.push({ instance: this.#instance, seq: Number(r.seq), time: new Date(r.occurred_at).toISOString(), type: r.type, decision: r.decision, hash: r.hash, recordText: r.record_text });
      expected++;
    }
    return out;
  }

  start(intervalMs: number): void {
    this.#loop = new Repeating(() => this.forwardOnce(), () => intervalMs);
    this.#loop.start();
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
    for (const lane of this.#lanes) await lane.target.close().catch(() => undefined);
  }
}
