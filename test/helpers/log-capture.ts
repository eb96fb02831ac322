import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from '../../src/logging.js';

/** A logger whose JSON lines are kept in memory, with the gateway's redaction settings. */
export function captureLogs(): { logger: Logger; lines: () => string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = pino(
    { level: 'debug', redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.token'], censor: '[redacted]' } },
    sink,
  );
  return { logger, lines: () => [...lines] };
}
