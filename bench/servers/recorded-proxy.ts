import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import fastifyHttpProxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import { checkpointKeyFromPem } from '../../src/audit/checkpoint.js';
import { AuditService } from '../../src/audit/service.js';
import { loadConfig } from '../../src/config/load.js';
import { openDb } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrations.js';

/**
 * Floor of "every request recorded durably before release": the bare @fastify/http-proxy plus
 * Custodian's audit trail and nothing else — one small access record per request, appended to
 * the chained journal, the response held until its group commit is fdatasync'd, shipped to the
 * same PostgreSQL audit store with signed checkpoints. No authentication, policy or masking
 * (BENCH_FLOOR_PARSE=1 adds the parse and re-serialisation a masking gateway cannot avoid).
 * Whatever this costs over the bare proxy, no gateway that keeps the guarantee can avoid.
 */
const [upstream, cert, key, dir] = [process.env.BENCH_UPSTREAM, process.env.BENCH_CERT, process.env.BENCH_KEY, process.env.BENCH_DIR];
if (!upstream || !cert || !key || !dir) throw new Error('BENCH_UPSTREAM, BENCH_CERT, BENCH_KEY and BENCH_DIR are required');
const parseBodies = process.env.BENCH_FLOOR_PARSE === '1';
const varDir = join(dir, parseBodies ? 'var-recorded-parse' : 'var-recorded');
const config = loadConfig(join(dir, 'custodian.yaml'));
const db = await openDb(config.store.databaseUrl, join(varDir, 'pglite'));
await migrate(db);
if (!config.audit.checkpointKey) throw new Error('the bench policy names a checkpoint key');
const audit = await AuditService.start(db, {
  journalDir: join(varDir, 'audit'),
  instance: parseBodies ? 'bench-recorded-parse-proxy' : 'bench-recorded-proxy',
  budgetBytes: config.audit.spoolBudgetBytes,
  segmentBytes: config.audit.segmentBytes,
  durability: 'before_release',
  checkpointKey: checkpointKeyFromPem(config.audit.checkpointKey).privateKey,
  checkpointEveryRecords: config.audit.checkpointEveryRecords,
  checkpointEverySeconds: config.audit.checkpointEverySeconds,
  retentionDays: config.audit.retentionDays,
  localTail: config.audit.localTail,
  shipIntervalMs: config.audit.shipIntervalMs,
});

const app = Fastify({ https: { cert, key }, logger: false });
// As in Custodian: the record is appended when the request arrives (its fsync overlaps the
// upstream call) and the response waits for it in onSend.
const durable = new WeakMap<object, Promise<void>>();
app.addHook('onRequest', (request, _reply, done) => {
  durable.set(
    request,
    audit.recordDecision({
      v: 1,
      type: 'decision',
      id: randomUUID(),
      time: new Date().toISOString(),
      requestId: request.id,
      method: request.method,
      path: request.url,
      decision: 'allow',
      reason: 'OK',
      client: { ip: request.ip },
    }),
  );
  done();
});
app.addHook('onSend', (request, _reply, payload, done) => {
  const recorded = durable.get(request);
  if (!recorded) return done(new Error('request without a record'));
  recorded.then(
    () => done(null, payload),
    (err: Error) => done(err),
  );
});
// BENCH_FLOOR_PARSE=1: also buffer each JSON body and put it through JSON.parse and
// JSON.stringify — the floor of any gateway that masks by parsing and re-serialising.
await app.register(fastifyHttpProxy, {
  upstream,
  replyOptions: parseBodies
    ? {
        onResponse(_request, reply, res) {
          const chunks: Buffer[] = [];
          res.stream.on('data', (c: Buffer) => chunks.push(c));
          res.stream.on('end', () => {
            const text = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')));
            reply.removeHeader('content-length');
            reply.send(text);
          });
        },
      }
    : {},
});
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
