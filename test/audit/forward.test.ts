import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import t from 'tap';
import { request } from 'undici';
import { frame, rfc5424 } from '../../src/audit/forward/syslog.js';
import { basicRoutes, staffHeaders, startTestGateway } from '../helpers/gateway.js';
import { testPki } from '../helpers/certs.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The audit trail forwarded to the company's log platform: RFC 5424 over TLS (RFC 5425 frames)
 * and JSON lines, every record, in chain order, including across a collector restart.
 */

/** A syslog-over-TLS collector: parses octet-counted frames, closes its side when we end ours. */
async function collector(port = 0): Promise<{ server: Server; port: number; messages: string[]; sockets: Set<TLSSocket> }> {
  const pki = await testPki();
  const messages: string[] = [];
  const sockets = new Set<TLSSocket>();
  const server = createServer({ cert: pki.serverCert, key: pki.serverKey }, (socket) => {
    sockets.add(socket);
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const space = buffered.indexOf(0x20);
        if (space < 0) break;
        const length = Number(buffered.subarray(0, space).toString());
        if (buffered.length < space + 1 + length) break;
        messages.push(buffered.subarray(space + 1, space + 1 + length).toString('utf8'));
        buffered = buffered.subarray(space + 1 + length);
      }
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  return { server, port: (server.address() as AddressInfo).port, messages, sockets };
}

const seqOf = (message: string) => Number(/ seq="(\d+)"/.exec(message)?.[1]);

t.test('RFC 5424 framing: priority, version, header, structured data with the chain position, the record as UTF-8', async (t) => {
  const record = { instance: 'gw-1', seq: 7, time: '2026-12-02T10:00:00.000Z', type: 'decision', decision: 'deny', hash: 'ab'.repeat(32), recordText: '{"v":1,"reason":"CUSTODIAN_PURPOSE_NOT_ALLOWED","path":"/api/customers/欧阳"}' };
  const message = rfc5424(record, 13);
  t.equal(message, `<109>1 2026-12-02T10:00:00.000Z gw-1 custodian - decision [custodian@32473 instance="gw-1" seq="7" hash="${'ab'.repeat(32)}"] \uFEFF${record.recordText}`);
  t.equal(frame(message), `${Buffer.byteLength(message)} ${message}`, 'octet counting counts bytes, not characters');
  t.match(rfc5424({ ...record, decision: 'allow', instance: 'a b"]' }, 13), /^<110>1 \S+ a_b__ custodian - decision \[custodian@32473 instance="a b\\"\\]"/, 'header and SD values are escaped');
});

t.test('every record reaches the syslog collector and the JSON-lines file, in order, across a collector restart', async (t) => {
  const pki = await testPki();
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  origin.handle((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":7,"idNumber":"110101199003071233","mobile":"13812345678"}'));
  let syslog = await collector();
  const port = syslog.port;
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: basicRoutes(),
    classification: { fields: { id: { class: 'public' }, idNumber: { class: 'C2', operator: { mask: 'resident_id' } }, mobile: { class: 'C2', operator: { mask: 'mobile' } } } },
    audit: {
      instanceId: `fwd-${process.pid}-${Date.now()}`,
      checkpoint: { key: { file: 'checkpoint-key.pem' } },
      shipIntervalMs: 50,
      forward: { syslog: { host: '127.0.0.1', port, ca: pki.caCert, serverName: 'localhost' }, jsonLines: { file: 'forwarded/audit.jsonl' }, intervalMs: 50, batch: 7 },
    },
  });
  t.teardown(() => syslog.server.close());
  const auth = await staffHeaders();
  const traffic = async (n: number) => {
    for (let i = 0; i < n; i++) t.equal((await rawHttps(gw.port, get('/api/customers/7', auth), { ca: gw.ca })).status, 200);
  };
  const head = () => gw.audit.journal.head.seq;

  await traffic(10);
  await waitFor(() => syslog.messages.length > 0 && Math.max(...syslog.messages.map(seqOf)) >= 5, 'the collector receives records');

  // The collector goes away mid-stream (connections cut, listener closed) while traffic goes on.
  for (const socket of syslog.sockets) socket.destroy();
  await new Promise((ok) => syslog.server.close(ok));
  const received = [...syslog.messages];
  await traffic(10);
  const metrics = async () => (await (await request(`${gw.adminUrl}/metrics`)).body.text()).match(/custodian_audit_forward_lag_records\{target="syslog"\} (\d+)/)?.[1];
  await waitFor(async () => Number(await metrics()) > 0, 'the lag metric shows records waiting for the collector');

  syslog = await collector(port);
  await traffic(5);
  await gw.audit.flush();
  await waitFor(async () => {
    const seqs = new Set([...received, ...syslog.messages].map(seqOf));
    return head() > 0 && seqs.size >= head() && seqs.has(head());
  }, 'every record reaches the restarted collector', 30_000);

  const all = [...received, ...syslog.messages];
  const seqs = all.map(seqOf);
  const expected = Array.from({ length: head() }, (_, i) => i + 1);
  t.same([...new Set(seqs)].sort((a, b) => a - b), expected, 'every record, none missing');
  const firsts: number[] = [];
  for (const s of seqs) if (!firsts.includes(s)) firsts.push(s);
  t.same(firsts, expected, 'in chain order (a batch the collector did not confirm is sent again, never out of order)');

  // Each message carries the record exactly as the database holds it: masked, no clear value.
  const stored = await gw.db.query<{ seq: string; record_text: string }>('SELECT seq, record_text FROM audit_events WHERE instance_id = $1', [gw.audit.journal.instance]);
  const bySeq = new Map(stored.rows.map((r) => [Number(r.seq), r.record_text]));
  for (const m of syslog.messages.slice(0, 5)) t.equal(m.slice(m.indexOf('\uFEFF') + 1), bySeq.get(seqOf(m)), `seq ${seqOf(m)}: the stored record`);
  const text = all.join('\n');
  t.notMatch(text, /110101199003071233|13812345678/, 'no clear identifier forwarded');

  await waitFor(async () => Number(await metrics()) === 0, 'the lag returns to zero');
  const jsonl = () => readFileSync(join(gw.dir, 'forwarded', 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number });
  await waitFor(() => new Set(jsonl().map((l) => l.seq)).size >= head(), 'the JSON-lines file catches up');
  const lineSeqs = jsonl().map((l) => l.seq);
  t.same([...new Set(lineSeqs)], expected, 'the JSON-lines file has every record, in chain order');
});
