import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** A secret as written in YAML: inline text, an environment variable, or a file. */
export type SecretRef = string | { env: string } | { file: string };

/**
 * Resolve a secret reference. Errors name the variable or file, never the value.
 * Relative files resolve against the configuration file's directory.
 */
export function resolveSecret(
  ref: SecretRef,
  baseDir: string,
  env: NodeJS.ProcessEnv,
): { ok: true; value: string } | { ok: false; message: string } {
  if (typeof ref === 'string') return { ok: true, value: ref };
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined || value === '') return { ok: false, message: `environment variable ${ref.env} is not set` };
    return { ok: true, value };
  }
  const path = resolve(baseDir, ref.file);
  try {
    return { ok: true, value: readFileSync(path, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    return { ok: false, message: `cannot read file ${path} (${code})` };
  }
}
