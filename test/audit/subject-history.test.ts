import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import t from 'tap';
import { listSegments } from '../../src/audit/segments.js';
import { residentIdCheckChar } from '../../src/mask/cn-checksums.js';
import { startTestGateway, staffHeaders, testKey } from '../helpers/gateway.js';
import { get, rawHttps } from '../helpers/https-client.js';
import { startOrigin } from '../helpers/origin.js';
import { mint } from '../helpers/tokens.js';

/**
 * Lenders often key customers by their resident ID number. Such a key is never written to an
 * audit record in clear, yet the officer must still find every access by it. Two valid ID
 * numbers are made that share their masked form (same first four and last four characters):
 * with a pseudonym key the officer's answer holds exactly the right customer's accesses; without
 * one, the masked form is all there is, and the answer says it may include someone else.
 */
function twins(): [string, string] {
  const seq = String(100 + Math.floor(Math.random() * 900));
  const id = (birth: string) => {
    const first17 = `110101${birth}${seq}`;
    return `${first17}${residentIdCheckChar(first17)}`;
  };
  const a = id(`19${70 + Math.floor(Math.random() * 20)}0${1 + Math.floor(Math.random() * 9)}1${Math.floor(Math.random() * 9)}`);
  for (let year = 1950; year < 2000; year++) {
    for (const day of ['0101', '0315', '0620', '0909', '1231']) {
      const b = id(`${year}${day}`);
      if (b !== a && b.slice(-4) === a.slice(-4)) return [a, b];
    }
  }
  throw new Error('no twin found');
}

async function gatewayWithPeople(t: Parameters<typeof startTestGateway>[0], withKey: boolean) {
  const origin = await startOrigin();
  t.teardown(() => origin.close());
  origin.handle((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"active"}'));
  return startTestGateway(t, {
    upstreams: { origin: { url: origin.url, allowPlaintext: true } },
    routes: [{ id: 'people.detail', method: 'GET', path: '/api/people/:idNumber', upstream: 'origin', purposes: ['credit_assessment'], subjects: [{ param: 'idNumber' }] }],
    classification: { fields: { status: { class: 'public' } } },
    ...(withKey ? { masking: { pseudonymKeys: [{ id: 'p7', secret: 'subject-history-test-key-0123456789' }] } } : {}),
  });
}

async function history(gw: Awaited<ReturnType<typeof gatewayWithPeople>>, id: string) {
  const officer = await mint(testKey, { sub: 'officer.li', roles: ['information_officer'] });
  const res = await request(`${gw.adminUrl}/audit/subjects/${id}`, { headers: { authorization: `Bearer ${officer}` } });
  return (await res.body.json()) as { accesses: { caller: string; decision: string; ambiguous?: boolean }[] };
}

t.test('with a pseudonym key: found by the ID number, exactly, never stored in clear', async (t) => {
  const gw = await gatewayWithPeople(t, true);
  const [a, b] = twins();
  const auth = await staffHeaders();
  t.equal((await rawHttps(gw.port, get(`/api/people/${a}`, auth), { ca: gw.ca })).status, 200);
  t.equal((await rawHttps(gw.port, get(`/api/people/${b}`, auth), { ca: gw.ca })).status, 200);
  t.equal((await rawHttps(gw.port, get(`/api/people/${b}`, auth), { ca: gw.ca })).status, 200);
  await gw.audit.shipper.shipOnce();

  const forA = await history(gw, a);
  t.equal(forA.accesses.length, 1, "A's one access, not B's two");
  t.notOk(forA.accesses[0]?.ambiguous, 'an exact match');
  t.equal((await history(gw, b)).accesses.length, 2);

  const rows = await gw.db.query<{ record_text: string; subjects: string[] }>("SELECT record_text, subjects FROM audit_events WHERE route_id = 'people.detail' AND type = 'decision'");
  const mine = rows.rows.filter((r) => r.subjects.some((s) => s.startsWith('p7_')));
  t.ok(mine.length >= 3, 'subjects recorded as pseudonyms');
  const stored = rows.rows.map((r) => `${r.record_text} ${r.subjects.join(' ')}`).join('\n');
  t.notMatch(stored, a, 'the ID number is in no record');
  t.notMatch(stored, b);
  const journal = (await listSegments(join(gw.dir, 'var', 'audit'))).map((s) => readFileSync(s.file, 'utf8')).join('');
  t.ok(journal.includes('people.detail'), 'the journal holds the records');
  t.notMatch(journal, a, 'nor in the journal');
});

t.test('without a pseudonym key: found by the masked form, and flagged as possibly another customer', async (t) => {
  const gw = await gatewayWithPeople(t, false);
  const [a, b] = twins();
  const auth = await staffHeaders();
  await rawHttps(gw.port, get(`/api/people/${a}`, auth), { ca: gw.ca });
  await rawHttps(gw.port, get(`/api/people/${b}`, auth), { ca: gw.ca });
  await gw.audit.shipper.shipOnce();
  const forA = await history(gw, a);
  t.equal(forA.accesses.length, 2, "A's masked form is B's too");
  t.ok(forA.accesses.every((x) => x.ambiguous === true), 'every line says so');
});
