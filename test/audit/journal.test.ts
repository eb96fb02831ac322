import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { checkpointKeyFromPem, signCheckpoint } from '../../src/audit/checkpoint.js';
import { Journal } from '../../src/audit/journal.js';
import { listSegments } from '../../src/audit/segments.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { verifyJournal } from '../../src/audit/verify.js';
import { chainHash } from '../../src/audit/chain.js';
import type { ChainedRecord } from '../../src/audit/record.js';
import { tempDir } from '../helpers/gateway.js';

const keyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const { privateKey, publicKey } = checkpointKeyFromPem(keyPem);

const rec = (n: number): AuditRecord => ({ v: 1, type: 'decision', id: `id-${n}`, time: new Date(Date.UTC(2026, 10, 27, 0, 0, n)).toISOString(), requestId: `r-${n}`, decision: 'allow', reason: 'OK' });

async function filledJournal(t: Parameters<typeof tempDir>[0], n = 20, segmentBytes = 1 << 20) {
  const dir = tempDir(t);
  const journal = await Journal.open({ dir, instance: 'gw-a', segmentBytes, budgetBytes: 1 << 30 });
  await Promise.all(Array.from({ length: n }, (_, i) => journal.append(rec(i + 1))));
  const head = journal.head;
  const jws = await signCheckpoint({ instance: 'gw-a', seq: head.seq, hash: head.hash, time: new Date().toISOString() }, privateKey);
  await journal.append({ v: 1, type: 'checkpoint', id: 'cp', time: new Date().toISOString(), detail: { seq: head.seq, hash: head.hash, jws } });
  await journal.close();
  return dir;
}

t.test('concurrent appends are group-committed, in order, and the chain verifies', async (t) => {
  const dir = tempDir(t);
  const journal = await Journal.open({ dir, instance: 'gw-a', segmentBytes: 4096, budgetBytes: 1 << 30 });
  const chained = await Promise.all(Array.from({ length: 200 }, (_, i) => journal.append(rec(i + 1))));
  t.same(chained.map((c) => c.seq), Array.from({ length: 200 }, (_, i) => i + 1), 'each append resolves with its seq');
  t.same(chained.map((c) => c.record.id), Array.from({ length: 200 }, (_, i) => `id-${i + 1}`), 'in arrival order');
  for (let i = 201; i <= 260; i++) await journal.append(rec(i));
  t.ok((await listSegments(dir)).length > 1, 'segments rotate');
  await journal.close();
  const [report] = await verifyJournal(dir, publicKey);
  t.equal(report?.records, 260);
  t.equal(report?.firstProblem, undefined);

  const reopened = await Journal.open({ dir, instance: 'gw-a', segmentBytes: 4096, budgetBytes: 1 << 30 });
  t.equal((await reopened.append(rec(261))).seq, 261, 'the chain continues after a restart');
  await reopened.close();
  t.equal((await verifyJournal(dir, publicKey))[0]?.firstProblem, undefined);
});

t.test('a torn tail from a crash is cut back on open', async (t) => {
  const dir = await filledJournal(t, 5);
  const [segment] = await listSegments(dir);
  appendFileSync(segment?.file as string, '{"instance":"gw-a","seq":7,"prev');
  t.match((await verifyJournal(dir, publicKey))[0]?.firstProblem, { problem: /unparsable|truncated/ }, 'verify sees the torn line');
  const journal = await Journal.open({ dir, instance: 'gw-a', segmentBytes: 1 << 20, budgetBytes: 1 << 30 });
  t.equal((await journal.append(rec(7))).seq, 7);
  await journal.close();
  t.same((await verifyJournal(dir, publicKey))[0]?.firstProblem, undefined, 'recovered and whole again');
});

t.test('tampering is detected and located', async (t) => {
  const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const cases: [string, (file: string) => void, RegExp, RegExp][] = [
    [
      'one byte of a record edited',
      (file) => writeFileSync(file, readFileSync(file, 'utf8').replace('"requestId":"r-7"', '"requestId":"r-8"')),
      /hash mismatch/,
      /:7$/,
    ],
    [
      'a record edited and re-serialised (its hash left as it was)',
      (file) => {
        const all = lines(file);
        const r = JSON.parse(all[6] as string);
        r.record.decision = 'deny';
        all[6] = JSON.stringify(r);
        writeFileSync(file, `${all.join('\n')}\n`);
      },
      /hash mismatch/,
      /:7$/,
    ],
    [
      'a record deleted',
      (file) => {
        const all = lines(file);
        all.splice(9, 1);
        writeFileSync(file, `${all.join('\n')}\n`);
      },
      /missing record/,
      /:10$/,
    ],
    [
      'two records swapped',
      (file) => {
        const all = lines(file);
        [all[3], all[4]] = [all[4] as string, all[3] as string];
        writeFileSync(file, `${all.join('\n')}\n`);
      },
      /out of order|missing|broken/,
      /:4$/,
    ],
    [
      'the segment truncated mid-record',
      (file) => {
        const text = readFileSync(file, 'utf8');
        writeFileSync(file, text.slice(0, Math.floor(text.length / 2)));
      },
      /unparsable|truncated/,
      /:\d+$/,
    ],
    [
      'the first records removed without a purge record',
      (file) => {
        const all = lines(file);
        writeFileSync(file, `${all.slice(3).join('\n')}\n`);
      },
      /missing/,
      /start/,
    ],
  ];
  for (const [name, tamper, problem, where] of cases) {
    const dir = await filledJournal(t);
    const [segment] = await listSegments(dir);
    tamper(segment?.file as string);
    const [report] = await verifyJournal(dir, publicKey);
    t.match(report?.firstProblem?.problem, problem, `${name}: detected`);
    t.match(report?.firstProblem?.where, where, `${name}: located (${report?.firstProblem?.where})`);
  }
});

t.test('a checkpoint signed by another key, or edited, fails', async (t) => {
  const dir = await filledJournal(t);
  t.same((await verifyJournal(dir, publicKey))[0]?.badCheckpoints, [], 'the genuine checkpoint verifies');
  const other = checkpointKeyFromPem(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  t.match((await verifyJournal(dir, other.publicKey))[0]?.badCheckpoints, [{ problem: /signature does not verify/ }]);
});

t.test('the spool budget: appends are refused once unshipped bytes reach it, freed by shipping', async (t) => {
  const dir = tempDir(t);
  const journal = await Journal.open({ dir, instance: 'gw-b', segmentBytes: 1 << 20, budgetBytes: 2048 });
  let accepted = 0;
  for (let i = 1; i <= 50; i++) {
    if (!journal.canAccept()) break;
    await journal.append(rec(i));
    accepted++;
  }
  t.ok(accepted > 0 && accepted < 50, `${accepted} records fit`);
  t.equal(journal.health.exhausted, true);
  await t.rejects(journal.append(rec(99)), /spool budget exhausted/);
  await journal.markShipped(journal.head.seq);
  t.equal(journal.canAccept(), true, 'shipping frees the budget');
  await journal.close();
});

t.test('the shipper reads the same records from memory as from disk, also past the memory cap', async (t) => {
  const dir = tempDir(t);
  const journal = await Journal.open({ dir, instance: 'gw-a', segmentBytes: 1 << 20, budgetBytes: 1 << 30 });
  await Promise.all(Array.from({ length: 300 }, (_, i) => journal.append(rec(i + 1))));
  const fromMemory = [...(await journal.readAfter(0, 200)), ...(await journal.readAfter(200, 200))];
  t.equal(fromMemory.length, 300);
  await journal.markShipped(150);
  t.same((await journal.readAfter(150, 10)).map((r) => r.seq), [151, 152, 153, 154, 155, 156, 157, 158, 159, 160], 'continues after what was shipped');
  await journal.close();

  // A restarted gateway has nothing in memory: the same records, byte for byte, come from disk.
  const reopened = await Journal.open({ dir, instance: 'gw-a', segmentBytes: 1 << 20, budgetBytes: 1 << 30 });
  const fromDisk = [...(await reopened.readAfter(0, 200)), ...(await reopened.readAfter(200, 200))];
  t.same(fromDisk, fromMemory, 'identical records and record texts');
  t.ok(fromDisk.every((r) => r.recordText === JSON.stringify(r.record)), 'record text is what was hashed');

  // More records than memory keeps (5,000): the oldest come from disk, in order, none missing.
  const more = 6_000;
  for (let i = 0; i < more; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, k) => reopened.append(rec(301 + i + k), false)));
  const seqs: number[] = [];
  for (let after = 0; ; ) {
    const batch = await reopened.readAfter(after, 2000);
    if (batch.length === 0) break;
    seqs.push(...batch.map((r) => r.seq));
    after = batch.at(-1)?.seq ?? after;
  }
  t.equal(seqs.length, 300 + more, 'every record once');
  t.ok(seqs.every((s, i) => s === i + 1), 'in order, no gap');
  await reopened.close();
});

/** Edit record `index` of the segment, then recompute its hash and every hash and link after it. */
function rechain(file: string, index: number, edit: (r: ChainedRecord) => void): void {
  const all = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ChainedRecord);
  edit(all[index] as ChainedRecord);
  for (let i = index; i < all.length; i++) {
    const r = all[i] as ChainedRecord;
    const prevHash = i === 0 ? r.prevHash : (all[i - 1] as ChainedRecord).hash;
    const text = JSON.stringify(r.record);
    all[i] = { ...r, prevHash, hash: chainHash(prevHash, r.instance, r.seq, text) };
  }
  writeFileSync(file, `${all.map((r) => `{"instance":${JSON.stringify(r.instance)},"seq":${r.seq},"prevHash":"${r.prevHash}","hash":"${r.hash}","record":${JSON.stringify(r.record)}}`).join('\n')}\n`);
}

// The real attack on a hash chain: edit a record and recompute every hash after it. The chain
// then links up; only a signed checkpoint at or after the edit catches it. An edit after the last
// checkpoint is not caught by the journal alone: that is the bound README states, and the
// database copy (audit verify's cross-check) is what covers it.
t.test('an edit with every later hash recomputed: caught by the next signed checkpoint, and only by it', async (t) => {
  const dir = await filledJournal(t, 20); // records 1..20, then a checkpoint over seq 20 at seq 21
  const [segment] = await listSegments(dir);
  rechain(segment?.file as string, 6, (r) => {
    (r.record as { decision?: string }).decision = 'deny';
  });
  const [report] = await verifyJournal(dir, publicKey);
  t.equal(report?.firstProblem, undefined, 'the recomputed chain links up');
  t.match(report?.badCheckpoints, [{ problem: /differs from the signed checkpoint/ }], 'the checkpoint signed over seq 20 does not match');

  const dir2 = await filledJournal(t, 20);
  const journal = await Journal.open({ dir: dir2, instance: 'gw-a', segmentBytes: 1 << 20, budgetBytes: 1 << 30 });
  for (let i = 23; i <= 25; i++) await journal.append(rec(i));
  await journal.close();
  const [segment2] = await listSegments(dir2);
  rechain(segment2?.file as string, 23, (r) => {
    (r.record as { decision?: string }).decision = 'deny';
  });
  const [unsealed] = await verifyJournal(dir2, publicKey);
  t.equal(unsealed?.firstProblem, undefined);
  t.same(unsealed?.badCheckpoints, [], 'an edit after the last checkpoint is not visible in the journal alone');
  t.equal(unsealed?.unsealed, 3, 'verify says how many records no checkpoint seals yet');
});

t.test('a record reaches the shipper only once its batch is durable, and from memory', async (t) => {
  const dir = tempDir(t);
  const journal = await Journal.open({ dir, instance: 'gw-a', segmentBytes: 1 << 20, budgetBytes: 1 << 30 });
  await Promise.all(Array.from({ length: 10 }, (_, i) => journal.append(rec(i + 1))));
  await journal.markShipped(10);
  // Hold every fdatasync until the test lets it go: the window a busy disk leaves open.
  const probe = await open(join(dir, 'probe'), 'w');
  const handle = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
  await probe.close();
  const datasync = handle.datasync;
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  handle.datasync = async function (this: unknown) {
    await held;
    return datasync.call(this);
  };
  t.teardown(() => {
    handle.datasync = datasync;
  });
  const durable = journal.append(rec(11));
  while (!readFileSync((await listSegments(dir, 'gw-a'))[0]?.file ?? '', 'utf8').includes('"requestId":"r-11"')) {
    await new Promise((r) => setImmediate(r));
  }
  t.same(await journal.readAfter(10, 100), [], 'written but not yet durable: the shipper is not given it');
  release();
  await durable;
  t.same(
    (await journal.readAfter(10, 100)).map((r) => r.record.requestId),
    ['r-11'],
    'once durable, it is shipped',
  );
  await journal.close();
});
