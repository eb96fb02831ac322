import { PassThrough, type Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCode } from '../errors.js';
import { addHits } from '../mask/detectors.js';
import { decodedBody, firstSignificantByte, ignoreLateError, isJsonContentType, readPrefix } from '../mask/body.js';
import { FieldReport } from '../mask/report.js';
import { ArrayMaskingStream } from '../mask/stream-array.js';
import { TransformError, applyView } from '../mask/walk.js';
import { SubjectSet } from '../audit/subjects.js';
import { BulkBudget, loadBulkBudget } from '../governance/bulk-guard.js';
import { ResponseScoper } from '../governance/response-scope.js';
import { callerKey } from '../pipeline/decide.js';
import { valuesAt } from '../policy/subject-paths.js';
import type { Allow } from '../pipeline/decision.js';
import type { Db } from '../store/db.js';
import { sendError } from './errors.js';

/** The upstream's answer as the proxy stage hands it over: status, headers, and the body unread. */
export interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly stream: Readable;
}

const CODE_FOR: Record<TransformError['reason'], ErrorCode> = {
  invalid_json: 'CUSTODIAN_TRANSFORM_INVALID_BODY',
  too_deep: 'CUSTODIAN_TRANSFORM_INVALID_BODY',
  truncated: 'CUSTODIAN_TRANSFORM_TRUNCATED',
  too_large: 'CUSTODIAN_TRANSFORM_TOO_LARGE',
  unsupported_content: 'CUSTODIAN_TRANSFORM_UNSUPPORTED_CONTENT',
  bad_encoding: 'CUSTODIAN_TRANSFORM_ENCODING',
};

function header(res: UpstreamResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Replace whatever upstream headers were copied with a refusal. Nothing of the body is sent. */
function refuse(reply: FastifyReply, res: UpstreamResponse, err: unknown): void {
  res.stream.destroy();
  const code = err instanceof TransformError ? CODE_FOR[err.reason] : 'CUSTODIAN_TRANSFORM_INVALID_BODY';
  reply.request.log.warn({ code, route: reply.request.custodian.decision?.match?.route.config.id }, 'response refused by transform');
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
  sendError(reply, code);
}

/** Headers of a body the gateway rewrote: its length, validators and digests no longer hold. */
function rewrittenHeaders(reply: FastifyReply): void {
  for (const name of ['content-length', 'etag', 'content-md5', 'content-encoding', 'digest', 'content-digest', 'last-modified']) {
    reply.removeHeader(name);
  }
  reply.header('content-type', 'application/json; charset=utf-8');
  reply.header('cache-control', 'no-store');
}

/**
 * The scoper of this allowed request: its governance scope, the route's paths and, when the
 * purpose has a bulk limit, the caller's budget. The budget needs the caller's window from the
 * store only when this response could take the caller past the limit: a buffered body whose
 * customers, all counted as new, still fit (the common case) is released without that query,
 * and so is one whose customers this replica counted moments ago (a page re-read near the limit).
 */
async function responseScoper(request: FastifyRequest, decision: Allow, db: Db, body: unknown): Promise<ResponseScoper> {
  const state = request.custodian;
  const limit = decision.purpose.config.bulkLimit;
  const paths = decision.policy.subjectPaths.get(decision.match.route.config.id) ?? [];
  let bulk: { released: SubjectSet; budget: BulkBudget } | undefined;
  if (decision.scope.countResponseCustomers && limit) {
    let named = 0;
    const candidates: string[] = [];
    if (body !== undefined) {
      for (const path of paths) {
        valuesAt(body, path.steps, (v) => {
          named++;
          if (v !== undefined && v !== null && typeof v !== 'object') candidates.push(String(v));
        });
      }
    }
    const fits = body !== undefined && decision.bulkCount !== undefined && decision.bulkCount + named <= limit.refuseAt;
    const budget = fits
      ? new BulkBudget(new Set(), named)
      : await loadBulkBudget(db, callerKey(decision.principal), decision.purpose.config.id, limit.windowSeconds, limit.refuseAt, candidates);
    // Every customer the response releases, uncapped, for the bulk guard's count (http/governance).
    state.bulkSubjects = new SubjectSet(1_000_000);
    bulk = { released: state.bulkSubjects, budget };
  }
  return new ResponseScoper(decision.scope, paths, decision.subjects, bulk);
}

/** What scoping removed, into the state (completion record) and, while headers can still change, the response. */
function noteScope(request: FastifyRequest, reply: FastifyReply | undefined, scoper: ResponseScoper): void {
  const { restrictedDropped, unconsentedDropped, bulkWithheld } = scoper.counts;
  request.custodian.restrictedDropped = restrictedDropped;
  request.custodian.consentDropped = unconsentedDropped;
  request.custodian.bulkWithheld = bulkWithheld;
  if (reply && bulkWithheld > 0) reply.header('x-custodian-bulk-withheld', String(bulkWithheld));
}

/**
 * Stage: transform the upstream response into the purpose's view before any byte is released.
 * Small bodies are buffered, parsed, masked and re-serialised; large JSON arrays are masked as a
 * stream with bounded memory; anything that cannot be masked is refused with 502.
 */
export async function transformResponse(request: FastifyRequest, reply: FastifyReply, res: UpstreamResponse, db: Db): Promise<void> {
  const decision = request.custodian.decision;
  const plan = decision?.allowed ? decision.policy.plans.get(decision.match.route.config.id)?.get(decision.purpose.config.id) : undefined;
  if (!decision?.allowed || !plan) {
    refuse(reply, res, new TransformError('unsupported_content'));
    return;
  }
  const { policy, match, purpose } = decision;
  const route = match.route.config;
  // An upstream may fail at any byte; each reader below handles the failure it sees, and an
  // error after that must not reach the process as an unhandled 'error' event.
  res.stream.on('error', ignoreLateError);
  const report = new FieldReport();
  request.custodian.fieldReport = report;
  addHits(report.detectorHits, request.custodian.headerDetectorHits);
  const masking = policy.config.masking;

  const declaredLength = header(res, 'content-length');
  const bodyless = request.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304 || declaredLength === '0';
  if (bodyless) {
    res.stream.resume();
    reply.removeHeader('content-length');
    reply.send();
    return;
  }

  if (!isJsonContentType(header(res, 'content-type'))) {
    if (route.passthrough.includes(purpose.config.id) || route.observe) {
      reply.send(res.stream);
      return;
    }
    refuse(reply, res, new TransformError('unsupported_content'));
    return;
  }

  let body: Readable;
  try {
    body = decodedBody(res.stream, header(res, 'content-encoding'), masking.maxDecompressedBytes);
  } catch (err) {
    refuse(reply, res, err);
    return;
  }

  try {
    const prefix = await readPrefix(body, route.observe ? masking.maxBufferedBytes : masking.streamThresholdBytes);
    if (route.observe) {
      // Observe: decide and report on what we could read, release the upstream bytes unchanged.
      if (prefix.ended) {
        const observed = JSON.parse(Buffer.concat(prefix.chunks).toString('utf8'));
        (await responseScoper(request, decision, db, observed)).applyToValue(observed);
        applyView(observed, plan, report);
        reply.send(Buffer.concat(prefix.chunks));
      } else {
        const rest = new PassThrough();
        for (const chunk of prefix.chunks) rest.write(chunk);
        body.on('error', (err) => rest.destroy(err));
        body.pipe(rest);
        reply.send(rest);
      }
      reply.removeHeader('content-encoding');
      reply.removeHeader('content-length');
      return;
    }
    if (prefix.ended) {
      const value = JSON.parse(Buffer.concat(prefix.chunks).toString('utf8'));
      const scoper = await responseScoper(request, decision, db, value);
      scoper.applyToValue(value);
      const masked = JSON.stringify(applyView(value, plan, report));
      rewrittenHeaders(reply);
      noteScope(request, reply, scoper);
      reply.send(masked);
      return;
    }
    if (firstSignificantByte(prefix.chunks) !== 0x5b) {
      // Not an array: only buffering could mask it, and it is over the streaming threshold.
      const whole = await readPrefix(body, masking.maxBufferedBytes - prefix.bytes);
      if (!whole.ended) throw new TransformError('too_large');
      const value = JSON.parse(Buffer.concat([...prefix.chunks, ...whole.chunks]).toString('utf8'));
      const scoper = await responseScoper(request, decision, db, value);
      scoper.applyToValue(value);
      const masked = JSON.stringify(applyView(value, plan, report));
      rewrittenHeaders(reply);
      noteScope(request, reply, scoper);
      reply.send(masked);
      return;
    }
    const scoper = await responseScoper(request, decision, db, undefined);
    const masker = new ArrayMaskingStream(plan, report, masking.maxBufferedBytes, (element) => scoper.admitElement(element));
    masker.on('end', () => {
      request.custodian.streamedBytes = masker.outputBytes;
      noteScope(request, undefined, scoper);
    });
    masker.on('error', (err) => {
      // Headers are gone; cutting the connection is the only honest signal left.
      request.log.warn({ code: err instanceof TransformError ? CODE_FOR[err.reason] : 'CUSTODIAN_TRANSFORM_INVALID_BODY' }, 'streamed response aborted');
      request.custodian.transformFailed = true;
      reply.raw.destroy();
    });
    body.on('error', (err) => masker.destroy(err instanceof TransformError ? err : new TransformError('truncated', { cause: err })));
    // Headers go before the body is read: they can say how many new customers may still come.
    if (scoper.bulkRemaining !== undefined) reply.header('x-custodian-bulk-remaining', String(scoper.bulkRemaining));
    for (const chunk of prefix.chunks) masker.write(chunk);
    body.pipe(masker);
    rewrittenHeaders(reply);
    reply.send(masker);
  } catch (err) {
    refuse(reply, res, err instanceof SyntaxError ? new TransformError('invalid_json', { cause: err }) : err);
  }
}
