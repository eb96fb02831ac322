import pino from 'pino';
import { safeErrorForLog } from './log-safe-error.js';
import { emptyHits, maskDetected } from './mask/detectors.js';

export type Logger = pino.Logger;

/**
 * The gateway's structured logger. Credentials and cookies are redacted wherever they appear,
 * so even a debug dump of headers cannot leak a token.
 */
export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  const pinoOptions: pino.LoggerOptions = {
    level: options.level ?? process.env.CUSTODIAN_LOG_LEVEL ?? 'info',
    // Errors are logged by type, code and a masked message only (see safeErrorForLog).
    serializers: { err: safeErrorForLog },
    hooks: {
      // Messages pass the detectors too, and an error logged alone gets its masked message, not
      // pino's default of the raw err.message (which may quote upstream bytes).
      logMethod(args, method) {
        const first = args[0] as unknown;
        if (first instanceof Error && args.length === 1) args.push(String((safeErrorForLog(first) as { message?: string }).message ?? ''));
        for (let i = 0; i < args.length; i++) {
          const arg = args[i] as unknown;
          if (typeof arg === 'string') args[i] = maskDetected(arg, emptyHits());
        }
        return method.apply(this, args);
      },
    },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["proxy-authorization"]',
        'headers.authorization',
        'headers.cookie',
        '*.token',
        '*.password',
        '*.secret',
      ],
      censor: '[redacted]',
    },
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

/** A logger that writes nothing (tests, CLI checks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
