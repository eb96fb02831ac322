/** The audit record. Never a clear C2/C3 value, token or secret: paths and queries are masked. */
export interface AuditRecord {
  readonly v: 1;
  readonly type: 'decision' | 'completion' | 'checkpoint' | 'purge' | 'policy' | 'admin';
  readonly id: string;
  /** ISO 8601 time the record was made. */
  readonly time: string;
  readonly requestId?: string;
  /**
   * Who: the person (or service) acting; `app` the application they acted through (`clients`),
   * and `endUser` how it named them (their forwarded token, its user header, or no one).
   */
  readonly caller?: { sub: string; kind: string; org?: string; roles: readonly string[]; app?: string; endUser?: 'token' | 'header' | 'none' };
  readonly purpose?: string;
  readonly route?: string;
  readonly method?: string;
  readonly path?: string;
  readonly query?: string;
  readonly upstream?: string;
  readonly decision?: 'allow' | 'deny' | 'observe';
  /** CUSTODIAN_* refusal code, or OK. */
  readonly reason?: string;
  readonly subjects?: { readonly ids: readonly string[]; readonly count: number };
  readonly fields?: unknown;
  readonly status?: number;
  readonly bytes?: number;
  readonly latencyMs?: number;
  readonly client?: { readonly ip: string };
  readonly tls?: { readonly version?: string; readonly certFingerprint?: string };
  /** Extra facts of non-request records (checkpoint, purge). */
  readonly detail?: Record<string, unknown>;
}

/** A record as it sits in the chain. */
export interface ChainedRecord {
  readonly instance: string;
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
  readonly record: AuditRecord;
}

export const GENESIS_HASH = '0'.repeat(64);
