import pino from 'pino';

export type Logger = pino.Logger;

/**
 * The gateway's structured logger. Credentials and cookies are redacted wherever they appear,
 * so even a debug dump of headers cannot leak a token.
 */
export function createLogger(options: { level?: string } = {}): Logger {
  return pino({
    level: options.level ?? process.env.CUSTODIAN_LOG_LEVEL ?? 'info',
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
  });
}

/** A logger that writes nothing (tests, CLI checks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
