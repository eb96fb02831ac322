import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import pg from 'pg';

/** The largest server message accepted (a row of large text values); beyond it the server is cut off. */
const MAX_SERVER_MESSAGE = 256 * 1024 * 1024;
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

/** The catalogue lookup: table OID + attribute number → table and column name, and its type. */
export type ColumnNames = ReadonlyMap<string, { table: string; column: string; typeId: number }>;

export interface Upstream {
  readonly client: pg.Client;
  /** The server's ParameterStatus values (server_version, encodings, …), passed on to the client. */
  readonly parameters: ReadonlyMap<string, string>;
  /**
   * Take the authenticated connection over from pg: from now on every server message goes to
   * `onMessage` (type and body), and `write` sends raw protocol bytes.
   */
  takeOver(onMessage: (type: string, body: Buffer) => void, onClose: () => void): { write(bytes: Buffer): void; pause(): void; resume(): void };
  /** OID.attnum → table (as the policy names it) and column, for the tables of the policy. */
  columnNames(tables: readonly string[]): Promise<ColumnNames>;
  /** Ask the server to cancel this session's running statement (a CancelRequest of our own). */
  cancel(): void;
  /**
   * End the connection: politely (Terminate) when it is idle; cut (the socket destroyed, so the
   * server's statement fails on its next write) when a statement is still in flight — a server
   * blocked writing to a paused reader would never read a Terminate.
   */
  close(abort?: boolean): Promise<void>;
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
    takeOver(onMessage, onClose) {
      const stream = (client as unknown as { connection: { stream: Duplex } }).connection.stream;
      // pg's own reader stops here; pg stays only for the credentials, TLS and the Terminate at close.
      stream.removeAllListeners('data');
      let buffer: Buffer = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
        let at = 0;
        while (buffer.length - at >= 5) {
          const length = buffer.readInt32BE(at + 1);
          if (length < 4 || length > MAX_SERVER_MESSAGE) {
            stream.destroy();
            return;
          }
          if (buffer.length - at < 1 + length) break;
          onMessage(String.fromCharCode(buffer[at] as number), buffer.subarray(at + 5, at + 1 + length));
          at += 1 + length;
        }
        buffer = buffer.subarray(at);
      });
      stream.once('close', onClose);
      const write = (bytes: Buffer) => {
        // A batch forwarded in one turn of the event loop leaves in one segment.
        if (!stream.writableCorked) {
          stream.cork();
          process.nextTick(() => stream.uncork());
        }
        stream.write(bytes);
      };
      return { write, pause: () => stream.pause(), resume: () => stream.resume() };
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
    close: async (abort = false) => {
      if (abort) (client as unknown as { connection: { stream: Duplex } }).connection.stream.destroy();
      else await client.end().catch(() => undefined);
    },
  };
}
