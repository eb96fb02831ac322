import { statSync } from 'node:fs';
import t from 'tap';
import { AuditService } from '../../src/audit/service.js';
import { checkpointKeyFromPem } from '../../src/audit/checkpoint.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { listSegments } from '../../src/audit/segments.js';
import { verifyJournal } from '../../src/audit/verify.js';
import { CHECKPOINT_KEY_PEM, tempDir } from '../helpers/gateway.js';
import { testDb } from '../helpers/store.js';
import { waitFor } from '../helpers/wait.js';

const { privateKey, publicKey } = checkpointKeyFromPem(CHECKPOINT_KEY_PEM);
const rec = (n: number): AuditRecord => ({ v: 1, type: 'decision', id: `id-${n}`, time: new Date().toISOString(), requestId: `r-${n}`, decision: 'allow', reason: 'OK' });

async function service(t: Parameters<typeof tempDir>[0] & { teardown(fn: () => Promise<void> | void): void }, maxBytes: number) {
  const dir = tempDir(t);
  const instance = `tail-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const audit = await AuditService.start(await testDb(), {
    journalDir: dir,
    instance,
    budgetBytes: 1 << 30,
    segmentBytes: 2048,
    durability: 'before_release',
    checkpointKey: privateKey,
    checkpointEveryRecords: 50,
    checkpointEverySeconds: 3600,
    retentionDays: 1095,
    // Trimming is driven by the test, not the timer.
    localTail: { maxBytes, maxAgeMs: 3600_000, checkEveryMs: 3_600_000 },
    shipIntervalMs: 3_600_000,
  });
  t.teardown(() => audit.close());
  // Shipping is driven by the test too: the shipper's first tick (at start) is let finish and
  // no other runs, so no record is shipped behind the test's back.
  await audit.shipper.stop();
  return { dir, instance, audit };
}

const bytesOnDisk = async (dir: string) => (await listSegments(dir)).reduce((sum, s) => sum + statSync(s.file).size, 0);

t.test('the journal keeps only what is unshipped plus its local tail; each deletion is a purge record', async (t) => {
  const { dir, audit } = await service(t, 6000);
  for (let i = 1; i <= 300; i++) await audit.recordDecision(rec(i));
  // Every 50th record starts a signed checkpoint in the background: all six written first.
  await waitFor(() => audit.journal.head.seq === 306, 'the checkpoints');
  const before = await bytesOnDisk(dir);
  t.ok(before > 30_000, `${before} bytes written in ${(await listSegments(dir)).length} segments`);

  await audit.trimShipped(Date.now());
  t.equal(await bytesOnDisk(dir), before, 'nothing unshipped is deleted');

  await audit.shipper.shipOnce();
  t.equal(audit.health.shipper.lagRecords, 0, 'everything is in the database');
  await audit.trimShipped(Date.now());
  const after = await bytesOnDisk(dir);
  t.ok(after <= 6000 + 2 * 2048 + 4096, `${after} bytes left: the tail plus the open segment`);
  const [report] = await verifyJournal(dir, publicKey);
  t.equal(report?.firstProblem, undefined, 'the trimmed journal still verifies: purge records account for its missing start');

  // Age: a zero-hour tail keeps no shipped segment at all.
  await audit.shipper.shipOnce();
  await audit.trimShipped(Date.now() + 2 * 3600_000);
  const left = await listSegments(dir);
  t.ok(left.length <= 2, `segments past the tail age are deleted (${left.length} left)`);
});
