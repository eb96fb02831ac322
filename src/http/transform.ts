import { PassThrough, type Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCode } from '../errors.js';
import { decodedBody, firstSignificantByte, ignoreLateError, isJsonContentType, readPrefix } from '../mask/body.js';
import { FieldReport } from '../mask/report.js';
import { ArrayMaskingStream } from '../mask/stream-array.js';
import { TransformError, transformValue } from '../mask/walk.js';
import { collectAt, dropRestrictedItems, idAt, responsePaths, scopeItems } from '../audit/subjects.js';
import { stripToScope } from '../governance/partner-scope.js';
import { sendError } from './errors.js';

/** The part of an undici response reply-from hands to onResponse. */
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
  reply.request.log.warn({ code, route: reply.request.custodian.match?.route.config.id }, 'response refused by transform');
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
 * Stage: transform the upstream response into the purpose's view before any byte is released.
 * Small bodies are buffered, parsed, masked and re-serialised; large JSON arrays are masked as a
 * stream with bounded memory; anything that cannot be masked is refused with 502.
 */
export async function transformResponse(request: FastifyRequest, reply: FastifyReply, res: UpstreamResponse): Promise<void> {
  const { policy, match, purpose } = request.custodian;
  const plan = policy && match && purpose ? policy.plans.get(match.route.config.id)?.get(purpose.config.id) : undefined;
  if (!policy || !match || !purpose || !plan) {
    refuse(reply, res, new TransformError('unsupported_content'));
    return;
  }
  const route = match.route.config;
  const subjectPaths = responsePaths(route.subjects);
  const subjects = request.custodian.subjects;
  /** Customer ids named in the response body, for the access record. */
  const isRestricted = request.custodian.isRestricted;
  const partnerScope = request.custodian.partnerScope;
  const noteSubjects = (value: unknown) => {
    // Lists lose the items of restricted customers before anything else looks at them.
    if (isRestricted) for (const steps of subjectPaths) request.custodian.restrictedDropped += dropRestrictedItems(value, steps, isRestricted);
    if (partnerScope) {
      // A partner gets only consented customers, each with only consented, contracted fields.
      let listed = false;
      for (const steps of subjectPaths) {
        if (steps.some((s) => 'each' in s)) {
          listed = true;
          request.custodian.consentDropped += scopeItems(value, steps, partnerScope, stripToScope);
        }
      }
      const recordScope = request.custodian.partnerRecordScope;
      if (!listed && recordScope) stripToScope(value, recordScope);
    }
    if (subjects) for (const steps of subjectPaths) collectAt(value, steps, subjects);
    const bulk = request.custodian.bulkSubjects;
    if (bulk) for (const steps of subjectPaths) collectAt(value, steps, bulk);
  };
  const noteElementSubjects = (element: unknown): boolean => {
    // `$[*].id` paths of an array body, applied to one streamed element.
    for (const steps of subjectPaths) {
      if (!steps[0] || !('each' in steps[0])) continue;
      if (partnerScope) {
        const id = idAt(element, steps.slice(1));
        const scope = id === undefined || id === null ? undefined : partnerScope(String(id));
        if (!scope) {
          request.custodian.consentDropped++;
          return false;
        }
        stripToScope(element, scope);
      }
      if (isRestricted) {
        const id = idAt(element, steps.slice(1));
        if (id !== undefined && id !== null && isRestricted(String(id))) {
          request.custodian.restrictedDropped++;
          return false;
        }
      }
      if (subjects) collectAt(element, steps, subjects, 1);
      if (request.custodian.bulkSubjects) collectAt(element, steps, request.custodian.bulkSubjects, 1);
    }
    return true;
  };
  // An upstream may fail at any byte; each reader below handles the failure it sees, and an
  // error after that must not reach the process as an unhandled 'error' event.
  res.stream.on('error', ignoreLateError);
  const report = new FieldReport();
  request.custodian.fieldReport = report;
  const headerHits = request.custodian.headerDetectorHits;
  report.detectorHits.residentId += headerHits.residentId;
  report.detectorHits.mobile += headerHits.mobile;
  report.detectorHits.bankCard += headerHits.bankCard;
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
        noteSubjects(observed);
        transformValue(observed, plan, report);
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
      noteSubjects(value);
      const masked = JSON.stringify(transformValue(value, plan, report));
      rewrittenHeaders(reply);
      reply.send(masked);
      return;
    }
    if (firstSignificantByte(prefix.chunks) !== 0x5b) {
      // Not an array: only buffering could mask it, and it is over the streaming threshold.
      const whole = await readPrefix(body, masking.maxBufferedBytes - prefix.bytes);
      if (!whole.ended) throw new TransformError('too_large');
      const value = JSON.parse(Buffer.concat([...prefix.chunks, ...whole.chunks]).toString('utf8'));
      noteSubjects(value);
      const masked = JSON.stringify(transformValue(value, plan, report));
      rewrittenHeaders(reply);
      reply.send(masked);
      return;
    }
    const masker = new ArrayMaskingStream(plan, report, masking.maxBufferedBytes, noteElementSubjects);
    masker.on('end', () => {
      request.custodian.streamedBytes = masker.outputBytes;
    });
    masker.on('error', (err) => {
      // Headers are gone; cutting the connection is the only honest signal left.
      request.log.warn({ code: err instanceof TransformError ? CODE_FOR[err.reason] : 'CUSTODIAN_TRANSFORM_INVALID_BODY' }, 'streamed response aborted');
      request.custodian.transformFailed = true;
      reply.raw.destroy();
    });
    body.on('error', (err) => masker.destroy(err instanceof TransformError ? err : new TransformError('truncated', { cause: err })));
    for (const chunk of prefix.chunks) masker.write(chunk);
    body.pipe(masker);
    rewrittenHeaders(reply);
    reply.send(masker);
  } catch (err) {
    refuse(reply, res, err instanceof SyntaxError ? new TransformError('invalid_json', { cause: err }) : err);
  }
}
