import type { IncomingMessage } from 'node:http';

/**
 * Every value of a header as received. Node folds duplicates (and for some names, such as
 * Authorization, silently keeps only the first), which would hide a smuggled second credential
 * or purpose; the raw list does not.
 */
export function rawHeaderValues(req: IncomingMessage, lowerCaseName: string): string[] {
  const values: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === lowerCaseName) values.push(raw[i + 1] as string);
  }
  return values;
}
