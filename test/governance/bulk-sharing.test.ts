import { connect, createServer, type Server } from 'node:net';
import t, { type Test } from 'tap';
import { loadBulkBudget, touchCustomers, windowCount } from '../../src/governance/bulk-guard.js';
import { type Db, postgresDb } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrations.js';
import { startThrowawayPostgres } from '../helpers/throwaway-postgres.js';

/**
 * Replicas cache each caller's distinct-customer count and learn of each other's additions from
 * PostgreSQL notifications. Two replicas here are two connection pools on one database (a server
 * of the test's own, because one case cuts the listening connection). What must hold: a replica
 * never decides on a count older than another replica's committed additions once notified, its
 * own additions count at once, and without a live listener nothing is cached.
 */
function counting(db: Db): Db & { readonly queries: number } {
  let queries = 0;
  return {
    kind: db.kind,
    query: (sql, params) => {
      queries++;
      return db.query(sql, params);
    },
    exec: (sql) => db.exec(sql),
    copyFrom: db.copyFrom?.bind(db),
    subscribe: db.subscribe?.bind(db),
    close: () => db.close(),
    get queries() {
      return queries;
    },
  };
}

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const HOUR = 3600;

/** Two replicas (connection pools) on a migrated database, and a window-count reader for one caller. */
async function replicas(t: Test, urlA: string, urlB: string, caller: string) {
  const a = counting(postgresDb(urlA));
  const b = counting(postgresDb(urlB));
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  await migrate(b);
  const count = async (db: Db, candidates: string[] = []) => (await windowCount(db, caller, 'customer_service', HOUR, candidates)).count;
  return { a, b, count };
}

t.test('replicas share the bulk count through notifications; a cut listener disables the cache', async (t) => {
  const server = await startThrowawayPostgres();
  t.teardown(() => server.destroy());
  const caller = 'staff::insider';
  const { a, b, count } = await replicas(t, server.url, server.url, caller);

  // A's listener comes up; then repeated checks for customers A has just counted are answered locally.
  await touchCustomers(a, caller, 'customer_service', ['c1', 'c2'], HOUR);
  await eventually(
    async () => {
      const before = a.queries;
      await count(a, ['c1']);
      await count(a, ['c1']);
      return a.queries - before;
    },
    (n) => n <= 1,
  );
  const before = a.queries;
  t.equal(await count(a, ['c1', 'c2']), 2);
  t.equal(await count(a), 2);
  t.equal(a.queries, before, 'answered from the cache: no round trip');

  // B adds three customers: A reads the count again once notified, and never uses the old one.
  await touchCustomers(b, caller, 'customer_service', ['c3', 'c4', 'c5'], HOUR);
  t.equal(await eventually(() => count(a), (n) => n === 5, 2000), 5, "A sees B's additions");

  // A's own addition counts at once, without waiting for its notification.
  await touchCustomers(a, caller, 'customer_service', ['c6'], HOUR);
  t.equal(await count(a), 6, "A's own addition, immediately");

  // A customer A has not touched itself is always checked in the database.
  const q = a.queries;
  await count(a, ['c3']);
  t.ok(a.queries > q, 'a candidate this replica has not counted goes to the database');

  // Cut A's listening connection: until it is back, every check goes to the database, so B's
  // additions are seen at once.
  await b.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'custodian-listen-custodian_bulk_access'");
  await new Promise((r) => setTimeout(r, 100));
  await touchCustomers(b, caller, 'customer_service', ['c7'], HOUR);
  const q2 = a.queries;
  t.equal(await count(a), 7, "B's addition seen while A's listener is down");
  t.equal(await count(a), 7);
  t.ok(a.queries >= q2 + 2, 'no caching without a listener');

  // The listener comes back by itself, and caching resumes from a fresh count.
  const resumed = await eventually(
    async () => {
      const n = a.queries;
      await count(a);
      await count(a);
      return a.queries - n;
    },
    (n) => n <= 1,
    5000,
  );
  t.ok(resumed <= 1, 'cached again after reconnecting');
  await touchCustomers(b, caller, 'customer_service', ['c8'], HOUR);
  t.equal(await eventually(() => count(a), (n) => n === 8, 2000), 8, 'and notified again');
});

/**
 * A TCP proxy in front of PostgreSQL that passes everything except notifications
 * (NotificationResponse, message type 'A'), like a pooler that does not deliver them.
 */
function notificationDroppingProxy(target: URL): Promise<{ url: string; server: Server }> {
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    client.pipe(upstream);
    let pending = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      const out: Buffer[] = [];
      while (pending.length >= 5) {
        const length = pending.readUInt32BE(1) + 1;
        if (pending.length < length) break;
        if (pending[0] !== 0x41) out.push(pending.subarray(0, length));
        pending = pending.subarray(length);
      }
      if (out.length > 0) client.write(Buffer.concat(out));
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const url = new URL(target.href);
      url.port = String((server.address() as { port: number }).port);
      resolve({ url: url.href, server });
    }),
  );
}

t.test('where notifications never arrive (a pooler that drops them), nothing is cached', async (t) => {
  const server = await startThrowawayPostgres();
  t.teardown(() => server.destroy());
  const proxy = await notificationDroppingProxy(new URL(server.url));
  t.teardown(() => proxy.server.close());
  const caller = 'staff::behind-pooler';
  const { a, b, count } = await replicas(t, proxy.url, server.url, caller);
  await touchCustomers(a, caller, 'customer_service', ['c1'], HOUR);
  await count(a);
  await new Promise((r) => setTimeout(r, 2500)); // longer than the listener's probe wait
  const before = a.queries;
  await count(a, ['c1']);
  await count(a, ['c1']);
  t.equal(a.queries - before, 2, 'every check goes to the database');
  await touchCustomers(b, caller, 'customer_service', ['c2'], HOUR);
  t.equal(await count(a), 2, "the other replica's addition is seen at once");
});

t.test("a list response's budget comes from the cache only for customers this replica counted moments ago", async (t) => {
  const server = await startThrowawayPostgres();
  t.teardown(() => server.destroy());
  const caller = 'staff::pager';
  const { a, b, count } = await replicas(t, server.url, server.url, caller);
  const budget = (db: Db, candidates: string[]) => loadBulkBudget(db, caller, 'customer_service', HOUR, 5, candidates);
  await touchCustomers(a, caller, 'customer_service', ['c1', 'c2', 'c3'], HOUR);
  // Once A's listener is up and its count cached, a page of c1..c3 is judged without a round trip.
  await eventually(
    async () => {
      const before = a.queries;
      await count(a);
      await budget(a, ['c1', 'c2', 'c3']);
      return a.queries - before;
    },
    (n) => n === 0,
  );
  const before = a.queries;
  const cached = await budget(a, ['c1', 'c2', 'c3']);
  t.equal(a.queries, before, 'no round trip');
  t.ok(['c1', 'c2', 'c3'].every((c) => cached.admits(c)), 'customers already in the window are released');
  t.equal(cached.remaining, 2, 'what is left is the limit less the cached count');
  t.ok(cached.admits('n1') && cached.admits('n2') && !cached.admits('n3'), 'new customers only up to the limit');

  // A page naming a customer A has not counted is judged against the database.
  const q = a.queries;
  const mixed = await budget(a, ['c1', 'c4']);
  t.ok(a.queries > q, 'a customer this replica has not counted sends the budget to the database');
  t.equal(mixed.remaining, 2);

  // B counts two more: once A is notified, its budget for the same page is smaller, never stale.
  await touchCustomers(b, caller, 'customer_service', ['c5', 'c6'], HOUR);
  const after = await eventually(
    () => budget(a, ['c1', 'c2', 'c3']),
    (x) => x.remaining === 0,
    2000,
  );
  t.equal(after.remaining, 0, "B's additions use up the budget A gives");
  t.notOk(after.admits('n1'), 'no new customer past the limit');
  t.ok(after.admits('c1'), 'a customer already in the window is still released');
});
