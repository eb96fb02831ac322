import { emptyHits, maskDetected } from './mask/detectors.js';

const MESSAGE_CHARS = 200;

/** An error's kind and code, nothing of its content. */
function errorKind(value: unknown): { type: string; code?: string } | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const e = value as { name?: unknown; code?: unknown; constructor?: { name?: string } };
  return {
    type: typeof e.name === 'string' ? e.name : (e.constructor?.name ?? 'Error'),
    code: typeof e.code === 'string' ? e.code : undefined,
  };
}

/**
 * pino's `err` serializer for the gateway: an error's type, code, a bounded message with
 * identifiers masked, the causes' types and codes, and the stack frames — never the error's other
 * properties. Library errors carry upstream bytes in them (undici's parser errors keep the raw
 * response in `data`; JSON.parse quotes the text it choked on), and none of that may reach a log.
 */
export function safeErrorForLog(err: unknown): unknown {
  const kind = errorKind(err);
  if (!kind) return err;
  const e = err as { message?: unknown; stack?: unknown; cause?: unknown };
  const message = typeof e.message === 'string' ? maskDetected(e.message.slice(0, MESSAGE_CHARS), emptyHits()) : undefined;
  const causes: { type: string; code?: string }[] = [];
  for (let cause = e.cause, depth = 0; cause && depth < 4; cause = (cause as { cause?: unknown }).cause, depth++) {
    const k = errorKind(cause);
    if (k) causes.push(k);
  }
  const frames = typeof e.stack === 'string' ? e.stack.split('\n').filter((line) => line.startsWith('    at ')).slice(0, 12) : [];
  return { ...kind, message, causes: causes.length > 0 ? causes : undefined, stack: frames.length > 0 ? frames.join('\n') : undefined };
}
