import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import t from 'tap';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logging.js';
import { startGateway } from '../../src/server.js';
import { type Db, pgliteDb, postgresDb } from '../../src/store/db.js';
import { testPki } from '../helpers/certs.js';
import { basicRoutes, CHECKPOINT_KEY_PEM, staffHeaders, staticIssuer, tempDir, testKey } from '../helpers/gateway.js';
import { startOrigin } from '../helpers/origin.js';
import { pgliteTemplate } from '../helpers/store.js';
import { startThrowawayPostgres } from '../helpers/throwaway-postgres.js';
import { journalRecords, startChildGateway, waitShipped } from '../helpers/child-gateway.js';
import { testPurposes } from '../helpers/tokens.js';

async function writeConfig(dir: string, extra: Record<string, unknown>) {
  const pki = await testPki();
  writeFileSync(join(dir, 'server.pem'), pki.serverCert);
  writeFileSync(join(dir, 'server-key.pem'), pki.serverKey);
  writeFileSync(join(dir, 'issuer-key.pem'), testKey.publicPem);
  writeFileSync(join(dir, 'checkpoint-key.pem'), CHECKPOINT_KEY_PEM);
  const file = join(dir, 'custodian.yaml');
  writeFileSync(
    file,
    stringify({
      listen: { data: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
      tls: { cert: { file: 'server.pem' }, key: { file: 'server-key.pem' } },
      auth: { issuers: [staticIssuer()] },
      purposes: testPurposes(),
      policy: { requireSignature: false },
      ...extra,
    }),
  );
  return { file, ca: pki.caCert };
}


/** Requests from `workers` concurrent loops until `until()`; the ids of fully received 200s. */
async function load(url: string, ca: string, headers: Record<string, string>, until: () => boolean, workers = 6) {
  const received: string[] = [];
  let errors = 0;
  const dispatcher = new Agent({ connect: { ca, servername: 'localhost' } });
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (!until()) {
        try {
          const res = await request(url, { headers, dispatcher });
          await res.body.text();
          if (res.statusCode === 200) received.push(String(res.headers['x-request-id']));
          else errors++;
        } catch {
          errors++;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }),
  );
  await dispatcher.close();
  return { received, errors };
}



async function dbRecords(db: Db, instance: string) {
  const r = await db.query<{ n: string; distinct_seq: string }>('SELECT count(*) AS n, count(DISTINCT seq) AS distinct_seq FROM audit_events WHERE instance_id = $1', [instance]);
  const ids = await db.query<{ request_id: string }>("SELECT request_id FROM audit_events WHERE instance_id = $1 AND type = 'decision'", [instance]);
  return { count: Number(r.rows[0]?.n), distinct: Number(r.rows[0]?.distinct_seq), decided: new Set(ids.rows.map((x) => x.request_id)) };
}

t.test('SIGKILL under load: every response the client received has its record, in the journal and the database', async (t) => {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const dir = tempDir(t);
  const instance = `kill-${Date.now()}`;
  const usePg = Boolean(process.env.DATABASE_URL);
  if (!usePg) {
    // The child opens the embedded store itself: give it a migrated copy.
    cpSync(await pgliteTemplate(), join(dir, 'pglite'), { recursive: true });
  }
  const { file, ca } = await writeConfig(dir, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: basicRoutes(),
    audit: { instanceId: instance, checkpoint: { key: { file: 'checkpoint-key.pem' } } },
    store: usePg ? {} : { embeddedDir: 'pglite' },
  });
  const varDir = join(dir, 'var');
  const env = { ...process.env };
  const first = await startChildGateway(file, varDir, { env });
  t.comment('gateway child started');
  const [authorization, purpose] = (await staffHeaders()).map((h) => h.slice(h.indexOf(':') + 2));
  const headers = { authorization: authorization as string, 'x-purpose': purpose as string };
  let killed = false;
  setTimeout(() => {
    first.child.kill('SIGKILL');
    killed = true;
  }, 1500);
  const url = `${first.dataUrl.replace('127.0.0.1', 'localhost')}/api/customers/7`;
  const { received } = await load(url, ca, headers, () => killed);
  await new Promise<void>((r) => (first.child.exitCode !== null || first.child.signalCode !== null ? r() : first.child.once('exit', () => r())));
  t.ok(received.length > 20, `${received.length} responses received before the kill`);
  t.comment('killed');

  const journalAfterKill = await journalRecords(join(varDir, 'audit'));
  const decided = new Set(journalAfterKill.filter((r) => r.record.type === 'decision').map((r) => r.record.requestId));
  t.same(received.filter((id) => !decided.has(id)), [], 'no received response lacks its decision record in the journal');

  const second = await startChildGateway(file, varDir, { env });
  t.comment('restarted');
  await waitShipped(second.adminUrl);
  await new Promise<void>((r) => {
    second.child.once('exit', () => r());
    second.child.kill('SIGTERM');
  });
  const journal = await journalRecords(join(varDir, 'audit'));
  const db = usePg ? postgresDb(process.env.DATABASE_URL as string) : await pgliteDb(join(dir, 'pglite'));
  t.teardown(() => db.close());
  const stored = await dbRecords(db, instance);
  t.equal(stored.count, journal.length, 'the database holds exactly the journal’s records');
  t.equal(stored.distinct, stored.count, 'no duplicates');
  t.same(received.filter((id) => !stored.decided.has(id)), [], 'every received response is recorded in the database');
});

t.test('PostgreSQL stops mid-load: no client error while the spool has room, everything arrives after recovery', async (t) => {
  const pg = await startThrowawayPostgres();
  t.teardown(() => pg.destroy());
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  const dir = tempDir(t);
  const instance = `outage-${Date.now()}`;
  const { file, ca } = await writeConfig(dir, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: basicRoutes(),
    audit: { instanceId: instance, shipIntervalMs: 50, checkpoint: { key: { file: 'checkpoint-key.pem' } } },
    store: { databaseUrl: pg.url },
  });
  const gw = await startGateway(loadConfig(file), { logger: silentLogger(), varDir: join(dir, 'var') });
  t.teardown(() => gw.close());
  const [authorization, purpose] = (await staffHeaders()).map((h) => h.slice(h.indexOf(':') + 2));
  const headers = { authorization: authorization as string, 'x-purpose': purpose as string };
  const started = Date.now();
  let phase = 'up';
  const timeline = (async () => {
    await new Promise((r) => setTimeout(r, 600));
    pg.stop();
    phase = 'down';
    await new Promise((r) => setTimeout(r, 1200));
    pg.start();
    phase = 'back';
  })();
  const url = `${gw.dataUrl.replace('127.0.0.1', 'localhost')}/api/customers/9`;
  const { received, errors } = await load(url, ca, headers, () => phase === 'back' && Date.now() - started > 2500, 4);
  await timeline;
  t.equal(errors, 0, 'no client-visible error during the outage');
  t.ok(gw.audit.health.shipper.failures > 0, 'the shipper did see the outage');
  for (let i = 0; i < 100 && gw.audit.health.shipper.lagRecords > 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.equal(gw.audit.health.shipper.lagRecords, 0, 'shipping caught up by itself');
  const journal = await journalRecords(join(dir, 'var', 'audit'));
  const stored = await dbRecords(gw.db, instance);
  t.equal(stored.count, journal.length, 'all records arrived');
  t.equal(stored.distinct, stored.count, 'none twice');
  t.same(received.filter((id) => !stored.decided.has(id)), []);
});
