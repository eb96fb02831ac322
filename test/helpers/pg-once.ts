import pg from 'pg';

/** One session's outcome: the rows and column names, or the error's code and text. */
export type OneStatement =
  | { readonly rows: Record<string, unknown>[]; readonly fields: string[]; readonly error?: undefined }
  | { readonly rows?: undefined; readonly fields?: undefined; readonly error: { readonly code?: string; readonly message: string } };

/**
 * Connect as `config` says, run one simple-protocol statement and close. A connection refused
 * (FATAL at startup, or a failed TLS handshake) is returned as its error without end(): a client
 * whose handshake failed has nothing to end, and end() would wait forever.
 */
export async function statementOnce(config: pg.ClientConfig, sql: string): Promise<OneStatement> {
  const c = new pg.Client({ connectionTimeoutMillis: 10_000, ...config });
  c.on('error', () => undefined);
  const failed = (err: unknown) => {
    const e = err as { code?: string; message: string };
    return { error: { code: e.code, message: e.message } };
  };
  try {
    await c.connect();
  } catch (err) {
    return failed(err);
  }
  try {
    const r = await c.query(sql);
    return { rows: r.rows as Record<string, unknown>[], fields: r.fields.map((f) => f.name) };
  } catch (err) {
    return failed(err);
  } finally {
    await c.end().catch(() => undefined);
  }
}
