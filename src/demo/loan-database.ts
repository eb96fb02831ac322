import { createServer, type Server } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { backend, CANCEL_REQUEST, GSSENC_REQUEST, SSL_REQUEST } from '../pgwire/frames.js';
import { customer, loansOf } from './dataset.js';

export interface DemoLoanDatabase {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

/** What a trust-authenticated server says after a StartupMessage. */
function startupReply(serverVersion: string): Buffer {
  return Buffer.concat([
    backend.authenticationOk(),
    backend.parameterStatus('server_version', serverVersion),
    backend.parameterStatus('server_encoding', 'UTF8'),
    backend.parameterStatus('client_encoding', 'UTF8'),
    backend.parameterStatus('DateStyle', 'ISO, MDY'),
    backend.parameterStatus('integer_datetimes', 'on'),
    backend.parameterStatus('standard_conforming_strings', 'on'),
    backend.parameterStatus('TimeZone', 'UTC'),
    backend.backendKeyData(1, 0),
    backend.readyForQuery('I'),
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
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) socket.write('N'); // no TLS, no GSS: loopback only
          else if (code === CANCEL_REQUEST) socket.end(); // cancel: not supported by the stand-in
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
