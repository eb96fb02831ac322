import { connect as netConnect } from 'node:net';
import pg from 'pg';
import type { DatabaseConfig } from '../config/types.js';
import { isLoopbackHost } from '../config/loopback.js';

/** A row description field as pg's parser gives it. */
export interface UpstreamField {
  readonly name: string;
  readonly tableID: number;
  readonly columnID: number;
  readonly dataTypeID: number;
  readonly dataTypeSize: number;
  readonly dataTypeModifier: number;
  readonly format: 'text' | 'binary';
}

/** What one forwarded statement produces, message by message (see ForwardedQuery). */
export interface StatementSink {
  rowDescription(fields: readonly UpstreamField[]): void;
  dataRow(values: readonly (string | null)[]): void;
  commandComplete(tag: string): void;
  emptyQuery(): void;
  /** The server's error, as pg parses it (message, code, detail, hint, …). */
  error(err: Error & Record<string, unknown>): void;
  /** The statement is over; `status` is the transaction status (I, T or E). */
  ready(status: 'I' | 'T' | 'E'): void;
}

type Connection = {
  query(text: string): void;
  once(event: 'readyForQuery', listener: (msg: { status?: string }) => void): void;
};

/**
 * A simple-protocol statement handed to pg's client as a custom submittable (the extension point
 * pg-cursor and pg-query-stream use): rows reach the sink one by one as they arrive, nothing is
 * buffered, and pg's own parser (pg-protocol) reads the server's messages.
 */
class ForwardedQuery {
  constructor(
    private readonly text: string,
    private readonly sink: StatementSink,
  ) {}

  submit(connection: Connection): void {
    // The ReadyForQuery after this statement, success or error, ends it (pg forgets an errored
    // query before its ReadyForQuery arrives, so the connection is asked directly).
    connection.once('readyForQuery', (msg) => {
      const status = msg?.status;
      this.sink.ready(status === 'T' || status === 'E' ? status : 'I');
    });
    connection.query(this.text);
  }
  handleRowDescription(msg: { fields: UpstreamField[] }): void {
    this.sink.rowDescription(msg.fields);
  }
  handleDataRow(msg: { fields: (string | null)[] }): void {
    this.sink.dataRow(msg.fields);
  }
  handleCommandComplete(msg: { text: string }): void {
    this.sink.commandComplete(msg.text);
  }
  handleEmptyQuery(): void {
    this.sink.emptyQuery();
  }
  handleError(err: Error & Record<string, unknown>): void {
    this.sink.error(err);
  }
  handleReadyForQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(connection: { sendCopyFail(msg: string): void }): void {
    // COPY is refused by the statement policy; should one start anyway, it is failed at once.
    connection.sendCopyFail('COPY is not allowed through the gateway');
  }
  handleCopyData(): void {}
}

/** The catalogue lookup: table OID + attribute number → table and column name, and its type. */
export type ColumnNames = ReadonlyMap<string, { table: string; column: string; typeId: number }>;

export interface Upstream {
  readonly client: pg.Client;
  /** The server's ParameterStatus values (server_version, encodings, …), passed on to the client. */
  readonly parameters: ReadonlyMap<string, string>;
  forward(text: string, sink: StatementSink): void;
  /** OID.attnum → table (as the policy names it) and column, for the tables of the policy. */
  columnNames(tables: readonly string[]): Promise<ColumnNames>;
  /** Ask the server to cancel this session's running statement (a CancelRequest of our own). */
  cancel(): void;
  close(): Promise<void>;
}

/**
 * The gateway's own connection to the loan database for one client session: its configured
 * credentials (SCRAM-SHA-256 as the server asks), verified TLS unless the configuration allows
 * plaintext to a loopback host. The client never learns the credentials.
 */
export async function connectUpstream(config: DatabaseConfig['upstream']): Promise<Upstream> {
  const url = new URL(config.url);
  const plaintext = config.allowPlaintext && isLoopbackHost(url.hostname);
  const client = new pg.Client({
    connectionString: config.url,
    password: config.password,
    application_name: 'custodian',
    ssl: plaintext ? false : { ca: config.ca, rejectUnauthorized: true, servername: url.hostname },
    connectionTimeoutMillis: 10_000,
  });
  // An upstream that fails later reports through the statement in flight; this keeps a broken
  // socket from becoming an uncaught 'error' event.
  client.on('error', () => undefined);
  const parameters = new Map<string, string>();
  (client as unknown as { connection: { on(e: 'parameterStatus', l: (m: { parameterName: string; parameterValue: string }) => void): void } }).connection.on(
    'parameterStatus',
    (m) => parameters.set(m.parameterName, m.parameterValue),
  );
  await client.connect();
  const host = url.hostname;
  const port = Number(url.port || 5432);
  return {
    client,
    parameters,
    forward(text, sink) {
      void client.query(new ForwardedQuery(text, sink) as unknown as pg.QueryConfig);
    },
    async columnNames(tables) {
      const r = await client.query<{ oid: number; nspname: string; relname: string; attnum: number; attname: string; atttypid: number }>(
        `SELECT c.oid::int AS oid, n.nspname, c.relname, a.attnum::int AS attnum, a.attname, a.atttypid::int AS atttypid
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE a.attnum > 0 AND NOT a.attisdropped
            AND ((n.nspname = 'public' AND c.relname = ANY($1)) OR n.nspname || '.' || c.relname = ANY($1))`,
        [tables],
      );
      const names = new Map<string, { table: string; column: string; typeId: number }>();
      for (const row of r.rows) {
        const table = row.nspname === 'public' ? row.relname : `${row.nspname}.${row.relname}`;
        names.set(`${row.oid}.${row.attnum}`, { table: table.toLowerCase(), column: row.attname.toLowerCase(), typeId: row.atttypid });
      }
      return names;
    },
    cancel() {
      const backend = client as unknown as { processID?: number; secretKey?: number };
      if (backend.processID === undefined || backend.secretKey === undefined) return;
      const request = Buffer.alloc(16);
      request.writeInt32BE(16, 0);
      request.writeInt32BE(80877102, 4);
      request.writeInt32BE(backend.processID, 8);
      request.writeInt32BE(backend.secretKey, 12);
      const socket = netConnect({ host, port }, () => socket.end(request));
      socket.on('error', () => undefined);
      socket.setTimeout(5000, () => socket.destroy());
    },
    close: () => client.end().catch(() => undefined),
  };
}
