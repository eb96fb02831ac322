import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import Cursor from 'pg-cursor';
import t from 'tap';
import { customer } from '../../src/demo/dataset.js';
import { emptyHits, maskDetected } from '../../src/mask/detectors.js';
import { maskMobile, maskName, maskResidentId } from '../../src/mask/presets.js';
import { journalText } from '../helpers/child-gateway.js';
import { startTestGateway, testKey } from '../helpers/gateway.js';
import { createLoanDatabase } from '../helpers/loan-database.js';
import { hostileRows, pgMitm } from '../helpers/pg-mitm.js';
import { statementOnce } from '../helpers/pg-once.js';
import { mint, testPurposes } from '../helpers/tokens.js';
import { requireTool } from '../helpers/tools.js';
import { asOfficer } from '../helpers/admin.js';
import { waitFor } from '../helpers/wait.js';

const exec = promisify(execFile);
/** pgjdbc as Debian packages it (libpostgresql-jdbc-java). */
const PGJDBC = '/usr/share/java/postgresql.jar';

/**
 * The PostgreSQL front end against the machine's PostgreSQL, through real clients (node-postgres
 * and psql): each purpose its own view, every hostile statement refused with nothing run
 * upstream, no clear identifier reaching the client or the access record.
 */

const people = Array.from({ length: 6 }, (_, i) => {
  const c = customer(i + 1);
  return { id: i + 1, name: c.name, idNumber: c.idNumber, mobile: c.mobile, city: 'Hangzhou', remarks: `客户来电，手机${c.mobile}` };
});

async function setup(t: Parameters<typeof startTestGateway>[0], purposes = testPurposes(), upstreamThrough?: (databasePort: number) => Promise<number>) {
  const loans = await createLoanDatabase(t, people);
  t.teardown(() => loans.db.end());
  // The gateway's own leg to the database, directly or through a relay the test controls.
  const upstreamUrl = new URL(loans.url);
  if (upstreamThrough) upstreamUrl.port = String(await upstreamThrough(Number(upstreamUrl.port || 5432)));
  const gw = await startTestGateway(t, {
    upstreams: { origin: { url: 'http://127.0.0.1:9', allowPlaintext: true } },
    routes: [{ id: 'unused', method: 'GET', path: '/unused', upstream: 'origin', purposes: ['customer_service'] }],
    purposes,
    classification: {
      fields: {
        id: { class: 'public' },
        customerId: { class: 'public' },
        status: { class: 'public' },
        city: { class: 'C1' },
        amount: { class: 'C1' },
        remarks: { class: 'C1' },
        name: { class: 'C2', operator: { mask: 'name' } },
        idNumber: { class: 'C2', operator: { mask: 'resident_id' } },
        mobile: { class: 'C2', operator: { mask: 'mobile' } },
      },
    },
    admin: { officerRoles: ['information_officer'], restrictionRefreshMs: 100 },
    database: {
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { url: upstreamUrl.toString(), allowPlaintext: true },
      purposes: ['customer_service', 'credit_assessment'],
      tables: {
        customers: { subject: 'id', columns: { id: 'id', name: 'name', id_number: 'idNumber', mobile: 'mobile', city: 'city', remarks: 'remarks' } },
        loans: { subject: 'customer_id', columns: { id: 'id', customer_id: 'customerId', amount: 'amount', status: 'status' } },
      },
      views: { credit_assessment: { classes: { C2: 'keep' } } },
      functions: ['count', 'sum', 'max', 'pg_sleep'],
    },
  });
  const agent = await mint(testKey, { sub: 'agent.wang', roles: ['cs_agent'] });
  const officer = await mint(testKey, { sub: 'officer.zhao', roles: ['credit_officer'] });
  const config = (password: string | undefined, purpose: string | undefined, ssl: boolean | object = { ca: gw.ca, servername: 'localhost' }): pg.ClientConfig => ({
    host: '127.0.0.1',
    port: gw.databasePort,
    user: 'analyst',
    database: 'loans',
    password,
    ssl,
    options: purpose ? `-c custodian.purpose=${purpose}` : undefined,
    connectionTimeoutMillis: 10_000,
  });
  const client = (password: string | undefined, purpose: string | undefined, ssl?: boolean | object) => new pg.Client(config(password, purpose, ssl));
  /** Connect, run one simple-protocol statement, and close; the error's code and text on failure. */
  const run = (password: string | undefined, purpose: string | undefined, sql: string) => statementOnce(config(password, purpose), sql);
  return { gw, loans, agent, officer, client, run };
}

t.test('each purpose sees its own view of the same rows', async (t) => {
  const { run, agent, officer } = await setup(t);
  const service = await run(agent, 'customer_service', 'SELECT id, name, id_number, mobile, remarks FROM customers ORDER BY id');
  const p = people[0] as (typeof people)[number];
  t.match(service.rows?.[0], { id: 1, id_number: maskResidentId(p.idNumber), mobile: maskMobile(p.mobile), remarks: `客户来电，手机${maskMobile(p.mobile)}` }, 'customer service: masked, free text scanned');
  t.equal(service.rows?.length, people.length);
  const credit = await run(officer, 'credit_assessment', 'SELECT id, name, id_number, mobile FROM customers WHERE id = 1');
  t.same(credit.rows, [{ id: 1, name: p.name, id_number: p.idNumber, mobile: p.mobile }], 'credit assessment: identity in clear');
  const star = await run(agent, 'customer_service', 'SELECT * FROM customers');
  t.notOk(JSON.stringify(star.rows).includes(p.idNumber), 'SELECT * is masked too');
  const joined = await run(agent, 'customer_service', "SELECT c.id, c.mobile, l.customer_id, l.amount FROM customers c JOIN loans l ON l.customer_id = c.id WHERE l.status = 'overdue' AND l.amount > 1000 ORDER BY l.amount");
  t.same(joined.rows?.map((r) => r.id), [3, 6], 'joins and conditions on clear columns work');
  const counted = await run(agent, 'customer_service', "SELECT count(*) AS n, sum(amount) AS total FROM loans WHERE status = 'active'");
  t.same(counted.rows, [{ n: '4', total: '12000' }], 'aggregates over clear columns');
  // A customer table's columns come with its customer id, so restrictions can apply to each row.
  const grouped = await run(agent, 'customer_service', 'SELECT status, count(*) AS n FROM loans GROUP BY status');
  t.match(grouped.error?.message, /customer id column of "loans"/);
});

t.test('hostile sessions and statements are refused; nothing unapproved reaches the database', async (t) => {
  const { gw, loans, run, agent, officer, client } = await setup(t);
  const expired = await mint(testKey, { roles: ['cs_agent'], iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 });
  const sessions: [string, string | undefined, string | undefined, RegExp][] = [
    ['no token', undefined, 'customer_service', /CUSTODIAN_AUTH_MISSING|password/],
    ['a forged token', `${agent.slice(0, -6)}AAAAAA`, 'customer_service', /CUSTODIAN_AUTH_INVALID/],
    ['an expired token', expired, 'customer_service', /CUSTODIAN_AUTH_EXPIRED/],
    ['no purpose', agent, undefined, /CUSTODIAN_PURPOSE_MISSING/],
    ['a purpose of another role', agent, 'credit_assessment', /CUSTODIAN_PURPOSE_NOT_ALLOWED/],
    ['a purpose not in the catalogue', agent, 'marketing', /CUSTODIAN_PURPOSE_UNKNOWN/],
  ];
  for (const [what, token, purpose, expected] of sessions) {
    const r = await run(token, purpose, 'SELECT id FROM customers');
    t.match(r.error?.message, expected, `${what}: refused at startup`);
  }
  const plain = await (async () => {
    const c = client(agent, 'customer_service', false);
    c.on('error', () => undefined);
    return c.connect().then(() => 'connected', (err: Error) => err.message);
  })();
  t.match(plain, /requires TLS/, 'a plaintext startup gets a clear FATAL');

  const statements: [string, RegExp][] = [
    ["SELECT id FROM customers WHERE id_number LIKE '1101%'", /may only be selected as it is/],
    ['SELECT id FROM customers ORDER BY mobile', /may only be selected/],
    ['SELECT name, count(*) FROM customers GROUP BY name', /may only be selected/],
    ["SELECT id FROM customers c WHERE EXISTS (SELECT 1 FROM customers d WHERE d.id = c.id AND d.mobile LIKE '1%')", /may only be selected/],
    ["WITH t AS (SELECT id, id_number FROM customers) SELECT id FROM t WHERE id_number LIKE '3%'", /may only be selected/],
    ["SELECT id FROM customers WHERE remarks LIKE '%138%'", /may only be selected/],
    ['COPY (SELECT * FROM customers) TO STDOUT', /Copy is not allowed/],
    ['SELECT 1; DELETE FROM customers', /one statement at a time/],
    ['DELETE FROM customers', /Delete is not allowed/],
    ['SELECT * INTO stolen FROM customers', /INTO writes a table/],
    ["SELECT pg_read_file('/etc/passwd')", /function "pg_read_file"/],
    ['SELECT * FROM pg_authid', /not open to this purpose/],
    ['SELEC * FROM customers', /could not be parsed/],
    ['SELECT amount FROM loans', /customer id column/],
  ];
  for (const [sql, expected] of statements) {
    const r = await run(agent, 'customer_service', sql);
    t.match(r.error, { code: '42501', message: expected }, sql);
    t.match(r.error?.message, /^CUSTODIAN_STATEMENT_REFUSED/);
  }
  const left = await loans.db.query('SELECT count(*)::int AS n FROM customers');
  t.equal(left.rows[0]?.n, people.length, 'the refused DELETE never ran');
  const stolen = await loans.db.query("SELECT to_regclass('public.stolen') AS t");
  t.equal(stolen.rows[0]?.t, null, 'SELECT INTO never ran');

  // The upstream's errors can quote values: a failed cast echoes its input.
  const p = people[1] as (typeof people)[number];
  const cast = await run(officer, 'credit_assessment', `SELECT '${p.idNumber}'::int`);
  t.equal(cast.error?.code, '22003', 'the server error reaches the client');
  t.notOk(cast.error?.message.includes(p.idNumber), 'with the identifier masked');
  t.ok(cast.error?.message.includes(maskResidentId(p.idNumber)));

  // The extended protocol (node-postgres uses it for parameters): the same policy, a refusal in
  // the middle of a batch arrives in order and the session goes on.
  const c = client(agent, 'customer_service');
  await c.connect();
  const param = await c.query('SELECT id, id_number FROM customers WHERE id = $1', [1]);
  t.same(param.rows, [{ id: 1, id_number: maskResidentId((people[0] as (typeof people)[number]).idNumber) }], 'a parameterised query is masked like any other');
  const named = { name: 'from-id', text: 'SELECT id, mobile FROM customers WHERE id >= $1 ORDER BY id' };
  t.equal((await c.query({ ...named, values: [1] })).rows.length, people.length, 'a prepared statement');
  t.equal((await c.query({ ...named, values: [100] })).rows.length, 0, 'executed again');
  const refusedParam = await c.query("SELECT id FROM customers WHERE mobile LIKE $1", ['138%']).catch((err: { code?: string; message: string }) => err);
  t.match(refusedParam, { code: '42501', message: /CUSTODIAN_STATEMENT_REFUSED/ }, 'a parameterised predicate on a masked column is refused');
  // Binary results: columns released as they are travel in binary, masked ones as their masked
  // text (declared text, whose binary form is its UTF-8) — never the server's binary of a clear value.
  const second = people[1] as (typeof people)[number];
  const binary = await c.query({ text: 'SELECT id, id_number, mobile FROM customers WHERE id = $1', values: [2], binary: true } as pg.QueryConfig);
  t.same(binary.rows, [{ id: 2, id_number: maskResidentId(second.idNumber), mobile: maskMobile(second.mobile) }], 'binary results: masked, ids read in binary');
  t.same(binary.fields.map((f) => [f.name, f.format, f.dataTypeID]), [['id', 'binary', 23], ['id_number', 'binary', 25], ['mobile', 'binary', 25]], 'described in the formats the client asked for');
  t.same((await c.query('SELECT id FROM customers WHERE id = 2')).rows, [{ id: 2 }], 'and the session goes on');
  await c.end();

  await gw.audit.flush();
  const journal = await journalText(join(gw.dir, 'var', 'audit'));
  t.match(journal, /CUSTODIAN_STATEMENT_REFUSED/, 'refused statements are recorded');
  t.match(journal, /"route":"database"/);
  for (const person of people) {
    t.notOk(journal.includes(person.idNumber) || journal.includes(person.mobile), 'no clear identifier in any record');
  }
  const hits = emptyHits();
  maskDetected(journal.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '').replace(/\b[0-9a-f]{40,}\b/gi, ''), hits);
  t.same(hits, emptyHits(), 'the detectors find nothing in the journal');
});

t.test('restricted customers are left out; a cancel with another session’s key does nothing; a client gone mid-result leaves the gateway serving', async (t) => {
  const { gw, loans, run, agent, client } = await setup(t);
  const created = await asOfficer(gw.adminUrl, '/admin/restrictions', { customerId: '2', kind: 'objection', purposes: ['customer_service'], ticket: 'T-2' });
  t.equal(created.status, 201);
  const ids = await waitFor(async () => {
    const listed = (await run(agent, 'customer_service', 'SELECT id FROM customers ORDER BY id')).rows?.map((r) => r.id) ?? [];
    return !listed.includes(2) && listed;
  }, 'the restriction to reach the gateway');
  t.same(ids, [1, 3, 4, 5, 6], 'the customer who objected is not released');

  // Two sessions: B sends a CancelRequest with a made-up key while A sleeps; A is not cancelled.
  const a = client(agent, 'customer_service');
  await a.connect();
  const sleeping = a.query('SELECT pg_sleep(0.5)').then(
    () => 'finished',
    (err: { code?: string }) => err.code,
  );
  await new Promise<void>((done) => {
    const s = netConnect({ host: '127.0.0.1', port: gw.databasePort as number }, () => {
      const req = Buffer.alloc(16);
      req.writeInt32BE(16, 0);
      req.writeInt32BE(80877102, 4);
      req.writeInt32BE(12345, 8);
      req.writeInt32BE(67890, 12);
      s.end(req);
    });
    s.on('close', () => done());
    s.on('error', () => done());
  });
  t.equal(await sleeping, 'finished', 'a cancel with a foreign key cancels nothing');
  // Its own key (pg's client cancels through a CancelRequest with the key the gateway gave it).
  const long = a.query('SELECT pg_sleep(5)').then(
    () => 'finished',
    (err: { code?: string }) => err.code,
  );
  // Cancel once the statement is running on the server.
  await waitFor(async () => (await loans.db.query("SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(5)%'")).rows.length > 0, 'the statement to run');
  const canceller = client(agent, 'customer_service');
  (canceller as unknown as { cancel(c: pg.Client, q: unknown): void }).cancel(a, (a as unknown as { activeQuery: unknown }).activeQuery);
  t.equal(await long, '57014', 'the owner’s key cancels its statement upstream');
  await a.end();

  // A client that hangs up in the middle of a result.
  for (let i = 0; i < 5; i++) {
    const c = client(agent, 'customer_service');
    c.on('error', () => undefined);
    await c.connect();
    const q = c.query('SELECT a.id, a.mobile, b.id AS b_id FROM customers a, customers b, customers c2, customers d').catch(() => undefined);
    setImmediate(() => (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy());
    await q;
  }
  const after = await run(agent, 'customer_service', 'SELECT count(*) AS n FROM customers');
  t.same(after.rows, [{ n: '6' }], 'the gateway still serves');
});

t.test('the bulk guard counts the customers a statement returns, before they are released', async (t) => {
  const purposes = testPurposes().map((p) => (p.id === 'customer_service' ? { ...p, bulkLimit: { windowSeconds: 3600, refuseAt: 4 } } : p));
  const { gw, run, agent } = await setup(t, purposes);
  const first = await run(agent, 'customer_service', 'SELECT id, mobile FROM customers ORDER BY id');
  // (Another test's objection may leave a customer out: the budget counts released customers.)
  t.equal(first.rows?.length, 4, 'four customers of six: the budget');
  const again = await run(agent, 'customer_service', 'SELECT id FROM customers WHERE id = 1');
  t.match(again.error?.message, /CUSTODIAN_BULK_LIMIT/, 'at the limit, the next statement over customers is refused');
  const loansOnly = await run(agent, 'customer_service', "SELECT count(*) AS n FROM loans WHERE status = 'active'");
  t.match(loansOnly.error?.message, /CUSTODIAN_BULK_LIMIT/, 'loans name customers too');
  const stored = await gw.db.query<{ n: string }>("SELECT count(*) AS n FROM bulk_access WHERE caller = 'staff::agent.wang' AND purpose = 'customer_service'");
  t.equal(Number(stored.rows[0]?.n), 4, 'the count is what was released');
});

t.test('psql through the gateway: the purpose from options, masked rows, a refused predicate', async (t) => {
  if (!requireTool(t, 'psql')) return;
  const { gw, agent } = await setup(t);
  const caFile = join(gw.dir, 'ca.pem');
  writeFileSync(caFile, gw.ca);
  const conn = `host=localhost port=${gw.databasePort} user=analyst dbname=loans sslmode=verify-full sslrootcert=${caFile} options='-c custodian.purpose=customer_service'`;
  const env = { ...process.env, PGPASSWORD: agent };
  const ok = await exec('psql', [conn, '-A', '-t', '-c', 'SELECT id, id_number FROM customers WHERE id = 1'], { env });
  const p = people[0] as (typeof people)[number];
  t.equal(ok.stdout.trim(), `1|${maskResidentId(p.idNumber)}`);
  const refused = await exec('psql', [conn, '-c', "SELECT id FROM customers WHERE id_number LIKE '1101%'"], { env }).catch((err: { stderr: string }) => err.stderr);
  t.match(refused, /CUSTODIAN_STATEMENT_REFUSED/);
});

t.test('pgbench through the gateway, simple and prepared protocol', async (t) => {
  if (!requireTool(t, 'pgbench')) return;
  const { loans, agent } = await setup(t);
  await exec('pgbench', ['-i', '-s', '1', '-q', '-n', loans.url]);
  // pgbench's own tables, opened to customer service in a second gateway with the same upstream.
  const bench = await startTestGateway(t, {
    upstreams: { origin: { url: 'http://127.0.0.1:9', allowPlaintext: true } },
    routes: [{ id: 'unused', method: 'GET', path: '/unused', upstream: 'origin', purposes: ['customer_service'] }],
    purposes: testPurposes(),
    classification: { fields: { id: { class: 'public' }, amount: { class: 'C1' }, filler: { class: 'C1' } } },
    database: {
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { url: loans.url, allowPlaintext: true },
      purposes: ['customer_service'],
      tables: {
        pgbench_accounts: { columns: { aid: 'id', bid: 'id', abalance: 'amount', filler: 'filler' } },
        pgbench_branches: { columns: { bid: 'id', bbalance: 'amount', filler: 'filler' } },
      },
    },
  });
  const env = { ...process.env, PGPASSWORD: agent, PGSSLMODE: 'require', PGOPTIONS: '-c custodian.purpose=customer_service', PGUSER: 'bench' };
  for (const mode of ['simple', 'prepared']) {
    const out = await exec('pgbench', ['-n', '-S', '-T', '2', '-c', '2', '-M', mode, '-h', '127.0.0.1', '-p', String(bench.databasePort), 'loans'], { env });
    const processed = Number(/number of transactions actually processed: (\d+)/.exec(out.stdout)?.[1] ?? 0);
    t.ok(processed > 0, `-M ${mode}: ${processed} transactions`);
    t.match(out.stdout, /number of failed transactions: 0 /, `-M ${mode}: none failed`);
  }
});

t.test('a migration that recreates a table is followed: nothing released under a stale mapping, the view back once re-read', async (t) => {
  const { loans, client, agent } = await setup(t);
  const p = people[0] as (typeof people)[number];
  const session = client(agent, 'customer_service');
  await session.connect();
  t.teardown(() => session.end().catch(() => undefined));
  const query = 'SELECT id, mobile, city FROM customers WHERE id = 1';
  t.same((await session.query(query)).rows, [{ id: 1, mobile: maskMobile(p.mobile), city: 'Hangzhou' }], 'before: masked');

  // Recreated with another OID and another column order, while the pooled session stays open.
  await loans.db.query(`ALTER TABLE customers RENAME TO customers_before;
                        CREATE TABLE customers (id int PRIMARY KEY, city text, mobile text, name text, id_number text, remarks text);
                        INSERT INTO customers SELECT id, city, mobile, name, id_number, remarks FROM customers_before`);
  const answers: string[] = [];
  const rows = await waitFor(async () => {
    try {
      const r = await session.query(query);
      answers.push(JSON.stringify(r.rows));
      return r.rows[0]?.mobile === maskMobile(p.mobile) && r.rows;
    } catch (err) {
      answers.push((err as Error).message);
      return false;
    }
  }, 'the gateway to re-read the catalogue').catch((err: unknown) => { console.error(answers.slice(0, 3)); throw err; });
  t.same(rows, [{ id: 1, mobile: maskMobile(p.mobile), city: 'Hangzhou' }], 'after: the same view of the new table');
  for (const answer of answers) {
    t.notOk(answer.includes(p.mobile), 'no clear mobile in any answer meanwhile');
    t.ok(answer.includes(maskMobile(p.mobile)) || /retry the statement/.test(answer), `each answer masked or a retry refusal: ${answer.slice(0, 80)}`);
  }
  t.same((await session.query('SELECT count(*) AS n FROM customers')).rows, [{ n: '6' }], 'the session still serves');
});

t.test('rows stream: a cursor fetches a result in pieces, each masked; a client that stops reading holds the server back', async (t) => {
  const { gw, loans, client, agent } = await setup(t);
  const p = people[0] as (typeof people)[number];
  const session = client(agent, 'customer_service');
  await session.connect();
  t.teardown(() => session.end().catch(() => undefined));
  // Customer 2 objected: a run of 216 rows is left out, more than a whole cursor page.
  t.equal((await asOfficer(gw.adminUrl, '/admin/restrictions', { customerId: '2', kind: 'objection', purposes: ['customer_service'], ticket: 'T-7' })).status, 201);
  const product = 'SELECT a.id, a.mobile, b.id AS b_id FROM customers a, customers b, customers c2, customers d';
  const whole = await waitFor(async () => {
    const rows = (await session.query(product)).rows;
    return rows.every((r) => r.id !== 2) && rows;
  }, 'the restriction to reach the gateway');
  t.equal(whole.length, 5 * 6 ** 3);
  // node-postgres cursors: Execute with a row limit, PortalSuspended between the pieces.
  const cursor = session.query(new Cursor(product));
  const read: Record<string, unknown>[] = [];
  const pages: number[] = [];
  for (;;) {
    const piece = await cursor.read(100);
    if (piece.length === 0) break;
    pages.push(piece.length);
    read.push(...piece);
  }
  t.ok(pages.slice(0, -1).every((n) => n === 100), 'every page but the last is full, though restricted rows were left out');
  await cursor.close();
  t.equal(read.length, whole.length, 'the cursor reads every row');
  t.ok(read.length > 1000);
  t.ok(read.every((r) => r.mobile !== p.mobile && typeof r.mobile === 'string' && (r.mobile as string).includes('****')), 'every piece masked');

  // A client that stops reading while a large result streams: once the socket buffers are full
  // the gateway stops reading the server instead of buffering the result — the rows it releases
  // stop growing while the server's statement is still running — and when the client hangs up
  // the server's statement ends with it.
  const huge = `${product}, customers e, customers f, customers g, customers h`;
  const slow = client(agent, 'customer_service');
  slow.on('error', () => undefined);
  await slow.connect();
  const stream = (slow as unknown as { connection: { stream: { pause(): void; destroy(): void } } }).connection.stream;
  const query = new pg.Query(huge);
  query.on('row', (row: Record<string, unknown>) => {
    if (row.mobile === p.mobile) t.fail('a clear mobile reached the client');
    stream.pause();
  });
  query.on('error', () => undefined);
  const released = async () => (await gw.metrics.databaseRows.get()).values.reduce((n, v) => n + v.value, 0);
  const rssBefore = process.memoryUsage().rss;
  const baseline = await released();
  slow.query(query);
  // Held back: the server's statement waits on writing to the gateway, and the rows released
  // did not move between two such observations (each poll is a round trip to the server).
  const running = "SELECT 1 FROM pg_stat_activity WHERE application_name = 'custodian' AND state = 'active' AND query LIKE 'SELECT a.id, a.mobile%'";
  const waiting = `${running} AND wait_event = 'ClientWrite'`;
  let last = -1;
  const plateau = await waitFor(async () => {
    const blocked = (await loans.db.query(waiting)).rows.length === 1;
    const now = await released();
    const still = blocked && now > baseline && now === last;
    last = blocked ? now : -1;
    return still && now - baseline;
  }, 'the gateway to stop releasing rows to a client that reads none');
  t.equal((await loans.db.query(running)).rows.length, 1, `the statement is still running upstream, held back (${plateau} rows released so far)`);
  t.ok(process.memoryUsage().rss - rssBefore < 256 * 2 ** 20, 'the gateway did not buffer the result');
  stream.destroy();
  await waitFor(async () => (await loans.db.query(running)).rows.length === 0, 'the statement to end with its client');
  t.same((await session.query('SELECT count(*) AS n FROM loans')).rows, [{ n: '6' }], 'the gateway still serves');
});

t.test('JDBC (pgjdbc, as Java applications and BI tools connect): masked rows, a prepared statement past binary transfer, a refused predicate', async (t) => {
  if (!requireTool(t, 'java', '-version')) return;
  if (!existsSync(PGJDBC)) {
    if (process.env.CI === 'true') t.fail(`${PGJDBC} is missing (CI installs libpostgresql-jdbc-java in .ci/run)`);
    else t.comment('pgjdbc not installed: this check did not run');
    return;
  }
  const { gw, agent, officer } = await setup(t);
  const p = people[0] as (typeof people)[number];
  const probe = async (token: string, purpose: string, ...statements: string[]) =>
    (await exec('java', ['-cp', PGJDBC, join(import.meta.dirname, 'jdbc', 'Probe.java'), String(gw.databasePort), token, purpose, ...statements], { timeout: 120_000 })).stdout
      .trim()
      .split('\n');
  const service = await probe(
    agent,
    'customer_service',
    'SELECT id, name, id_number, mobile FROM customers WHERE id = 1',
    'prepared:8:SELECT c.id, c.mobile, l.customer_id, l.amount, l.status FROM customers c JOIN loans l ON l.customer_id = c.id WHERE c.id = ?',
    "SELECT id FROM customers WHERE id_number LIKE '1101%'",
  );
  t.same(service[0]?.split('\t'), ['query', 'id=1', `name=${maskName(p.name)}`, `id_number=${maskResidentId(p.idNumber)}`, `mobile=${maskMobile(p.mobile)}`], 'a plain query: masked');
  // pgjdbc prepares on the server from the 5th run and then asks for binary results.
  for (let n = 0; n < 8; n++) t.same(service[1 + n]?.split('\t'), [`run${n}`, 'id=1', `mobile=${maskMobile(p.mobile)}`, 'customer_id=1', 'amount=1000', 'status=active'], `prepared run ${n + 1}: masked, numbers read`);
  t.match(service[9], /^error\t42501\t.*CUSTODIAN_STATEMENT_REFUSED/, 'a predicate on a masked column: refused');
  t.notOk(service.join('\n').includes(p.idNumber) || service.join('\n').includes(p.mobile), 'nothing clear');
  const credit = await probe(officer, 'credit_assessment', 'prepared:7:SELECT id, id_number FROM customers WHERE id = ?');
  t.same(credit.at(-1)?.split('\t'), ['run6', 'id=1', `id_number=${p.idNumber}`], 'another purpose, its own view, in binary transfer too');
});

t.test('a hostile database: a row that lies about its columns ends the session, nothing of it released, the gateway still serving', async (t) => {
  let mitm: Awaited<ReturnType<typeof pgMitm>> | undefined;
  const { run, client, agent } = await setup(t, testPurposes(), async (port) => {
    mitm = await pgMitm(port);
    return mitm.port;
  });
  const relay = mitm as Awaited<ReturnType<typeof pgMitm>>;
  t.teardown(() => relay.close());
  const p = people[0] as (typeof people)[number];
  const mobile = Buffer.from(p.mobile);
  for (const [what, mutate] of hostileRows) {
    const c = client(agent, 'customer_service');
    c.on('error', () => undefined);
    await c.connect();
    const before = relay.rewritten;
    relay.corruptNext((body) => body.includes(mobile), mutate);
    const answer = await c.query('SELECT id, mobile, remarks FROM customers WHERE id = 1').then(
      (r) => JSON.stringify(r.rows),
      (err: Error) => err.message,
    );
    t.equal(relay.rewritten, before + 1, `${what}: the row was sent`);
    t.match(answer, /unexpected message|terminated|closed/i, `${what}: the session ends with an error`);
    t.notOk(answer.includes(p.mobile), `${what}: nothing of the row reaches the client`);
    await c.end().catch(() => undefined);
  }
  const after = await run(agent, 'customer_service', 'SELECT id, mobile FROM customers WHERE id = 1');
  t.same(after.rows, [{ id: 1, mobile: maskMobile(p.mobile) }], 'the gateway still serves, masked');
});
