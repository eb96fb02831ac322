import type { Db } from './db.js';

/**
 * Versioned schema migrations, applied in order inside a transaction each, recorded in
 * schema_migrations. The same SQL runs on PostgreSQL and PGlite.
 */
const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'audit events, partitioned by month; shipping state',
    sql: `
      CREATE TABLE audit_events (
        instance_id text NOT NULL,
        seq bigint NOT NULL,
        occurred_at timestamptz NOT NULL,
        type text NOT NULL,
        request_id text,
        caller_sub text,
        caller_kind text,
        caller_org text,
        purpose text,
        route_id text,
        decision text,
        reason text,
        status integer,
        subjects text[] NOT NULL DEFAULT '{}',
        record jsonb NOT NULL,
        -- the record exactly as hashed, so the chain verifies from the database too
        record_text text NOT NULL,
        prev_hash text NOT NULL,
        hash text NOT NULL,
        PRIMARY KEY (instance_id, seq, occurred_at)
      ) PARTITION BY RANGE (occurred_at);
      CREATE INDEX audit_events_subjects ON audit_events USING gin (subjects);
      CREATE INDEX audit_events_request ON audit_events (request_id);
      CREATE TABLE audit_ship_state (
        instance_id text PRIMARY KEY,
        shipped_seq bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 2,
    name: 'policy versions',
    sql: `
      CREATE TABLE policy_versions (
        instance_id text NOT NULL,
        version text NOT NULL,
        digest text NOT NULL,
        signer text,
        signed_at timestamptz,
        loaded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (instance_id, loaded_at, digest)
      );
    `,
  },
  {
    version: 3,
    name: 'restrictions and objections',
    sql: `
      CREATE TABLE restrictions (
        id text PRIMARY KEY,
        customer_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('objection', 'restriction')),
        purposes text[] NOT NULL DEFAULT '{}',
        ticket text NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        due_at timestamptz,
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered')),
        reply text,
        answered_by text,
        answered_at timestamptz,
        lifted_by text,
        lifted_at timestamptz
      );
      CREATE INDEX restrictions_customer ON restrictions (customer_id) WHERE lifted_at IS NULL;
    `,
  },
  {
    version: 4,
    name: 'four-eyes approvals and the destruction ledger',
    sql: `
      CREATE TABLE approvals (
        id text PRIMARY KEY,
        method text NOT NULL,
        path text NOT NULL,
        -- SHA-256 (hex) of the request body the approval covers; NULL: a request without a body
        body_sha256 text,
        requester text NOT NULL,
        approver text NOT NULL,
        reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        used_by_request text,
        CHECK (requester <> approver)
      );
      CREATE TABLE destruction_ledger (
        id text PRIMARY KEY,
        approval_id text NOT NULL REFERENCES approvals (id),
        request_id text NOT NULL,
        requester text NOT NULL,
        approver text NOT NULL,
        method text NOT NULL,
        object text NOT NULL,
        status integer,
        outcome text NOT NULL,
        at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 5,
    name: 'bulk-access guard (shared across replicas)',
    sql: `
      CREATE TABLE bulk_access (
        caller text NOT NULL,
        purpose text NOT NULL,
        customer_id text NOT NULL,
        seen_at timestamptz NOT NULL,
        PRIMARY KEY (caller, purpose, customer_id)
      );
      CREATE INDEX bulk_access_window ON bulk_access (caller, purpose, seen_at);
    `,
  },
  {
    version: 6,
    name: 'consents of customers to partners',
    sql: `
      CREATE TABLE consents (
        id text PRIMARY KEY,
        customer_id text NOT NULL,
        recipient text NOT NULL,
        purpose text NOT NULL,
        fields text[] NOT NULL,
        granted_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        withdrawn_at timestamptz,
        evidence text NOT NULL,
        recorded_by text NOT NULL
      );
      CREATE INDEX consents_live ON consents (customer_id, recipient, purpose) WHERE withdrawn_at IS NULL;
    `,
  },
  {
    version: 7,
    name: 'audit record stored once, as hashed',
    // record_text is the canonical copy (the chain verifies against it); a jsonb twin doubled the
    // write cost of every shipped record for queries that are rare and can cast record_text::jsonb.
    sql: 'ALTER TABLE audit_events DROP COLUMN record',
  },
  {
    version: 8,
    name: 'bulk access change notifications',
    // Replicas cache each caller's distinct-customer count; any change to a caller's rows, made by
    // any replica, tells every replica to read that count again. The payload is a digest of
    // caller and purpose: fixed length (NOTIFY payloads are limited) and no caller id in clear.
    sql: `
      CREATE FUNCTION custodian_bulk_access_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM pg_notify('custodian_bulk_access', md5(NEW.caller || chr(31) || NEW.purpose));
        RETURN NULL;
      END
      $fn$;
      CREATE TRIGGER bulk_access_changed AFTER INSERT OR UPDATE ON bulk_access
        FOR EACH ROW EXECUTE FUNCTION custodian_bulk_access_changed();
    `,
  },
  {
    version: 9,
    name: 'policy versions kept whole',
    // The exact text of every loaded version (rollback is loading an old one's text, signed
    // again), who loaded it how, every signer, and its impact against the version it replaced.
    sql: `
      ALTER TABLE policy_versions ADD COLUMN policy_text text;
      ALTER TABLE policy_versions ADD COLUMN cosigners text[] NOT NULL DEFAULT '{}';
      ALTER TABLE policy_versions ADD COLUMN loaded_by text;
      ALTER TABLE policy_versions ADD COLUMN previous_digest text;
      ALTER TABLE policy_versions ADD COLUMN impact text;
      ALTER TABLE policy_versions ADD COLUMN revealing boolean NOT NULL DEFAULT false;
    `,
  },
  {
    version: 10,
    name: 'audit forwarding positions',
    // Per instance and target, the last record the log platform is known to have received whole.
    sql: `
      CREATE TABLE audit_forward_state (
        instance_id text NOT NULL,
        target text NOT NULL,
        forwarded_seq bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (instance_id, target)
      );
    `,
  },
  {
    version: 11,
    name: 'the application a caller came through',
    // Reports group accesses by application (clients) without reading every record's text.
    sql: 'ALTER TABLE audit_events ADD COLUMN caller_app text',
  },
];

export async function migrate(db: Db): Promise<number> {
  await db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  const applied = new Set((await db.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)));
  let count = 0;
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    // Another replica may be migrating at the same moment: the advisory lock serialises them.
    await db.exec(`BEGIN; SELECT pg_advisory_xact_lock(7315001); ${m.sql}; INSERT INTO schema_migrations (version, name) VALUES (${m.version}, '${m.name.replaceAll("'", "''")}'); COMMIT;`).catch(async (err: unknown) => {
      await db.exec('ROLLBACK').catch(() => undefined);
      const again = await db.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (again.rows.length === 0) throw err;
    });
    count++;
  }
  return count;
}

/** The monthly partition name and bounds for a time. */
export function partitionFor(time: Date): { name: string; from: string; to: string } {
  const y = time.getUTCFullYear();
  const m = time.getUTCMonth();
  const from = new Date(Date.UTC(y, m, 1)).toISOString();
  const to = new Date(Date.UTC(y, m + 1, 1)).toISOString();
  return { name: `audit_events_y${y}m${String(m + 1).padStart(2, '0')}`, from, to };
}

const created = new WeakMap<Db, Set<string>>();

/** Create the month's partition if it does not exist yet (idempotent, safe across replicas). */
export async function ensurePartition(db: Db, time: Date): Promise<void> {
  const p = partitionFor(time);
  const known = created.get(db) ?? new Set<string>();
  created.set(db, known);
  if (known.has(p.name)) return;
  await db
    .exec(`CREATE TABLE IF NOT EXISTS ${p.name} PARTITION OF audit_events FOR VALUES FROM ('${p.from}') TO ('${p.to}')`)
    .catch(async (err: unknown) => {
      // Two replicas racing to create it: fine if it now exists.
      const exists = await db.query('SELECT 1 FROM pg_class WHERE relname = $1', [p.name]);
      if (exists.rows.length === 0) throw err;
    });
  known.add(p.name);
}
