import { createServer, type Server } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { customer, loansOf } from './dataset.js';

export interface DemoLoanDatabase {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const cstr = (s: string) => Buffer.from(`${s}\0`, 'utf8');

/** What a trust-authenticated server says after a StartupMessage. */
function startupReply(serverVersion: string): Buffer {
  const status = (k: string, v: string) => message('S', Buffer.concat([cstr(k), cstr(v)]));
  const key = Buffer.alloc(8);
  key.writeInt32BE(1, 0);
  return Buffer.concat([
    message('R', Buffer.from([0, 0, 0, 0])),
    status('server_version', serverVersion),
    status('server_encoding', 'UTF8'),
    status('client_encoding', 'UTF8'),
    status('DateStyle', 'ISO, MDY'),
    status('integer_datetimes', 'on'),
    status('standard_conforming_strings', 'on'),
    status('TimeZone', 'UTC'),
    message('K', key),
    message('Z', Buffer.from('I')),
  ]);
}

/**
 * The demo's loan database: an in-memory PGlite with the demo customers and loans, served on a
 * loopback port over the PostgreSQL protocol (trust authentication, no TLS: the gateway's
 * configuration allows plaintext only because it is loopback). A stand-in for the company's
 * database — a few dozen lines rather than @electric-sql/pglite-socket, which pins its PGlite
 * peer to an older exact version than the embedded store uses.
 */
export async function startDemoLoanDatabase(host: string, port: number, customers = 200): Promise<DemoLoanDatabase> {
  const db = new PGlite();
  await db.exec(`
    CREATE TABLE customers (id int PRIMARY KEY, name text, id_number text, mobile text, email text, address text,
      bank_card text, birth_date date, monthly_income numeric, credit_score int, risk_level text, remarks text);
    CREATE TABLE loans (id int PRIMARY KEY, customer_id int REFERENCES customers, product text, principal numeric,
      annual_rate numeric, term_months int, status text, disbursed_at date);`);
  for (let id = 1; id <= customers; id++) {
    const c = customer(id);
    await db.query('INSERT INTO customers VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)', [
      c.id, c.name, c.idNumber, c.mobile, c.email, c.address, c.bankCard, c.birthDate, c.monthlyIncome, c.creditScore, c.riskLevel, c.remarks,
    ]);
    for (const l of loansOf(id)) {
      await db.query('INSERT INTO loans VALUES ($1,$2,$3,$4,$5,$6,$7,$8)', [l.id, l.customerId, l.product, l.principal, l.annualRate, l.termMonths, l.status, l.disbursedAt]);
    }
  }
  const version = (await db.query<{ v: string }>('SHOW server_version')).rows[0]?.v ?? '17';
  // PGlite runs one statement at a time: every connection's messages go through one queue.
  let queue: Promise<unknown> = Promise.resolve();
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    let buffer = Buffer.alloc(0);
    let started = false;
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const header = started ? 5 : 4;
        if (buffer.length < header) return;
        const length = buffer.readInt32BE(started ? 1 : 0);
        const total = (started ? 1 : 0) + length;
        if (length < 4 || length > 1 << 24) return socket.destroy();
        if (buffer.length < total) return;
        const frame = buffer.subarray(0, total);
        buffer = buffer.subarray(total);
        if (!started) {
          const code = frame.readInt32BE(4);
          if (code === 80877103 || code === 80877104) socket.write('N'); // no TLS, no GSS: loopback only
          else if (code === 80877102) socket.end(); // cancel: not supported by the stand-in
          else {
            started = true;
            socket.write(startupReply(version));
          }
          continue;
        }
        if (frame[0] === 0x58) return socket.end(); // Terminate
        queue = queue.then(() => db.execProtocolRaw(frame).then((out) => socket.writable && socket.write(out), () => socket.destroy()));
      }
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address ? address.port : port,
    close: async () => {
      await new Promise((ok) => server.close(ok));
      await db.close();
    },
  };
}
