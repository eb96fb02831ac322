import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** The one data-access interface over PostgreSQL (pg) or embedded PostgreSQL (PGlite). */
export interface Db {
  readonly kind: 'postgres' | 'pglite';
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
  exec(sql: string): Promise<void>;
  /**
   * COPY … FROM STDIN with rows already in COPY text format; returns the rows copied. Only on
   * PostgreSQL (the fast path for shipping); PGlite callers use a multi-row INSERT instead.
   */
  copyFrom?(sql: string, rows: string): Promise<number>;
  /**
   * LISTEN on a channel over a connection of its own, reconnecting by itself. `onMessage` gets each
   * payload, and undefined whenever messages may have been missed (after every (re)connect).
   * Only on PostgreSQL, where other processes share the database; an embedded store has no
   * other writer.
   */
  subscribe?(channel: string, onMessage: (payload: string | undefined) => void): Subscription;
  close(): Promise<void>;
}

export interface Subscription {
  /** Listening now: messages sent from here on will arrive. */
  readonly live: boolean;
}

const RECONNECT_MS = 1000;
const PROBE_TIMEOUT_MS = 2000;

/** A LISTEN connection that comes back after the server or the network drops it. */
function listen(url: string, channel: string, onMessage: (payload: string | undefined) => void) {
  if (!/^[a-z_]+$/.test(channel)) throw new Error(`invalid channel name ${channel}`);
  /** The connection being opened or listening; events of any older one are ignored. */
  let current: pg.Client | undefined;
  let live = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const lost = (c: pg.Client) => {
    if (current !== c) return;
    current = undefined;
    live = false;
    c.end().catch(() => undefined);
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, RECONNECT_MS);
    timer.unref();
  };
  const connect = async () => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, keepAlive: true, application_name: `custodian-listen-${channel}` });
    current = c;
    const probe = `probe:${randomUUID()}`;
    let probeArrived: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => {
      probeArrived = resolve;
    });
    c.on('error', () => lost(c));
    c.on('end', () => lost(c));
    c.on('notification', (m) => {
      if (m.channel !== channel) return;
      if (m.payload === probe) probeArrived();
      else onMessage(m.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
      // Live only once a notification has made the round trip: behind a proxy that does not
      // deliver them (a transaction-pooling PgBouncer) the listener never goes live, and callers
      // never rely on it.
      await c.query('SELECT pg_notify($1, $2)', [channel, probe]);
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), PROBE_TIMEOUT_MS).unref());
      if ((await Promise.race([arrived, timeout])) === 'timeout') throw new Error('notifications do not arrive');
      if (current !== c) return; // closed, or dropped while starting
      onMessage(undefined); // whatever happened while not listening is unknown
      live = true;
    } catch {
      lost(c);
    }
  };
  void connect();
  return {
    subscription: {
      get live() {
        return live;
      },
    },
    close: async () => {
      closed = true;
      live = false;
      if (timer) clearTimeout(timer);
      const c = current;
      current = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}

/** PostgreSQL through a pg pool. Errors keep pg's code (for outage detection) but not the URL. */
export function postgresDb(url: string): Db {
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000, idleTimeoutMillis: 10_000 });
  // A dropped idle connection must not crash the gateway; the next query reconnects.
  pool.on('error', () => undefined);
  const listeners: { close: () => Promise<void> }[] = [];
  return {
    kind: 'postgres',
    async query(sql, params) {
      const result = await pool.query(sql, params as unknown[]);
      return { rows: result.rows };
    },
    async exec(sql) {
      await pool.query(sql);
    },
    async copyFrom(sql, rows) {
      const client = await pool.connect();
      // A checked-out client's socket error (the server went away mid-COPY: EPIPE, reset) is
      // emitted on the client itself; unhandled it would crash the gateway. The COPY fails
      // with it all the same, and the shipper retries.
      const ignore = () => undefined;
      client.on('error', ignore);
      try {
        const stream = client.query(copyFrom(sql));
        await pipeline(Readable.from([rows]), stream);
        client.removeListener('error', ignore);
        client.release();
        return stream.rowCount;
      } catch (err) {
        // A connection that failed mid-COPY is not reused: its protocol state is unknown. It keeps
        // the listener, for errors that arrive while it is being torn down.
        client.release(true);
        throw err;
      }
    },
    subscribe(channel, onMessage) {
      const l = listen(url, channel, onMessage);
      listeners.push(l);
      return l.subscription;
    },
    async close() {
      await Promise.all(listeners.map((l) => l.close()));
      await pool.end();
    },
  };
}

/** The same schema and queries on an embedded PGlite in a local directory (demo, fresh checkout). */
export async function pgliteDb(dataDir: string): Promise<Db> {
  const { PGlite } = await import('@electric-sql/pglite');
  // PGlite creates only the last path component; make the parents (e.g. a fresh var/).
  mkdirSync(dirname(dataDir), { recursive: true });
  const db = new PGlite(dataDir);
  await db.waitReady;
  // PGlite runs one statement at a time; queue callers so concurrent users never interleave.
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = tail.then(fn, fn);
    tail = next.catch(() => undefined);
    return next;
  };
  return {
    kind: 'pglite',
    query: (sql, params) => serial(async () => ({ rows: (await db.query(sql, params)).rows as never[] })),
    exec: (sql) => serial(async () => void (await db.exec(sql))),
    close: () => serial(() => db.close()),
  };
}

/** DATABASE_URL (or the configured URL) when set, otherwise the embedded store. */
export async function openDb(url: string | undefined, embeddedDir: string): Promise<Db> {
  return url ? postgresDb(url) : pgliteDb(embeddedDir);
}
