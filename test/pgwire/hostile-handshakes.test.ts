import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { generate } from 'selfsigned';
import t from 'tap';
import { customer } from '../../src/demo/dataset.js';
import { maskMobile } from '../../src/mask/presets.js';
import { startChildGateway } from '../helpers/child-gateway.js';
import { testKey, writeTestConfig } from '../helpers/gateway.js';
import { createLoanDatabase } from '../helpers/loan-database.js';
import { statementOnce } from '../helpers/pg-once.js';
import { mint } from '../helpers/tokens.js';

/**
 * The PostgreSQL listener's TLS upgrade, attacked: clients that stop, lie or hang up around the
 * SSLRequest and the handshake after it. The gateway runs in a child process, so a crash is seen
 * as one; after every attack an ordinary session still gets its masked rows.
 */

const people = Array.from({ length: 2 }, (_, i) => {
  const c = customer(i + 1);
  return { id: i + 1, name: c.name, idNumber: c.idNumber, mobile: c.mobile, city: 'Hangzhou', remarks: '' };
});

/** The SSLRequest message: length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** Open a TCP connection, send the SSLRequest and wait for the one-byte answer. */
function sslRequest(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => socket.write(SSL_REQUEST));
    socket.once('data', (b: Buffer) => (b.toString() === 'S' ? resolve(socket) : reject(new Error(`answered ${b.toString()}`))));
    socket.once('error', reject);
  });
}

/** Resolves when the gateway ends the connection (or after `ms`, to report that it did not). */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.resume();
  });
}

t.test('hostile TLS upgrades on the database listener never end the process', async (t) => {
  const loans = await createLoanDatabase(t, people);
  t.teardown(() => loans.db.end());
  const { dir, file, ca } = await writeTestConfig(t, {
    upstreams: { origin: { url: 'http://127.0.0.1:9', allowPlaintext: true } },
    routes: [{ id: 'unused', method: 'GET', path: '/unused', upstream: 'origin', purposes: ['customer_service'] }],
    tls: { cert: { file: 'server.pem' }, key: { file: 'server-key.pem' }, clientCa: { file: 'client-ca.pem' }, clientCertificate: 'request' },
    classification: { fields: { id: { class: 'public' }, mobile: { class: 'C2', operator: { mask: 'mobile' } } } },
    database: {
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { url: loans.url, allowPlaintext: true },
      purposes: ['customer_service'],
      tables: { customers: { subject: 'id', columns: { id: 'id', mobile: 'mobile' } } },
    },
  });
  const gw = await startChildGateway(file, join(dir, 'var'));
  t.teardown(() => gw.stop());
  const port = gw.databasePort as number;
  const agent = await mint(testKey, { roles: ['cs_agent'] });

  /** An ordinary client: the masked row, or what went wrong. */
  const ordinary = async () => {
    const r = await statementOnce(
      { host: '127.0.0.1', port, user: 'u', database: 'loans', password: agent, ssl: { ca, servername: 'localhost' }, options: '-c custodian.purpose=customer_service' },
      'SELECT id, mobile FROM customers WHERE id = 1',
    );
    return r.rows ?? r.error.message;
  };
  const expected = [{ id: 1, mobile: maskMobile((people[0] as (typeof people)[number]).mobile) }];
  t.same(await ordinary(), expected, 'an ordinary session before any attack');

  const untrusted = await generate([{ name: 'commonName', value: 'intruder' }], { keyType: 'ec', algorithm: 'sha256' });
  const attacks: [string, () => Promise<void>][] = [
    [
      'plaintext after the SSLRequest was accepted',
      async () => {
        const s = await sslRequest(port);
        s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        t.ok(await closedWithin(s, 10_000), 'the gateway ends the connection');
      },
    ],
    ['hang up right after the S', async () => void (await sslRequest(port)).destroy()],
    [
      'a truncated ClientHello, then hang up',
      async () => {
        const s = await sslRequest(port);
        s.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
        s.destroy();
      },
    ],
    [
      'a certificate from an unknown CA, then a startup message',
      async () => {
        const s = await sslRequest(port);
        const secure = tlsConnect({ socket: s, ca, servername: 'localhost', cert: untrusted.cert, key: untrusted.private });
        secure.on('error', () => undefined);
        await new Promise((resolve) => secure.once('secureConnect', resolve));
        // A startup message for user "u", then silence: the session waits for a password, no more.
        const params = Buffer.from('user\0u\0database\0loans\0\0');
        const startup = Buffer.alloc(8);
        startup.writeInt32BE(8 + params.length, 0);
        startup.writeInt32BE(196608, 4);
        secure.write(Buffer.concat([startup, params]));
        secure.destroy();
      },
    ],
    [
      'a second SSLRequest inside TLS',
      async () => {
        const s = await sslRequest(port);
        const secure = tlsConnect({ socket: s, ca, servername: 'localhost' });
        secure.on('error', () => undefined);
        await new Promise((resolve) => secure.once('secureConnect', resolve));
        secure.write(SSL_REQUEST);
        t.ok(await closedWithin(secure, 10_000), 'refused and ended');
      },
    ],
    [
      'fifty connections that send the SSLRequest and stall, then go',
      async () => {
        const stalled = await Promise.all(Array.from({ length: 50 }, () => sslRequest(port)));
        t.same(await ordinary(), expected, 'served while fifty handshakes hang');
        for (const s of stalled) s.destroy();
      },
    ],
  ];
  for (const [what, attack] of attacks) {
    await attack();
    t.same(await ordinary(), expected, `${what}: still serving`);
    t.notOk(gw.exited(), `${what}: the process is alive`);
  }
});
