/** One audit record as the database holds it, ready to forward. */
export interface ForwardedRecord {
  readonly instance: string;
  readonly seq: number;
  readonly time: string;
  readonly type: string;
  readonly decision: string | null;
  readonly hash: string;
  /** The record exactly as hashed (masked at the source: no clear personal value, no token). */
  readonly recordText: string;
}

/**
 * Somewhere the audit trail is forwarded to. `deliver` resolves only once the records are known
 * to have arrived whole — the forwarded position advances on that alone, so a failure means the
 * batch is delivered again (at least once, in order; the chain's seq lets a collector drop repeats).
 */
export interface ForwardTarget {
  readonly name: string;
  deliver(records: readonly ForwardedRecord[]): Promise<void>;
  close(): Promise<void>;
}
