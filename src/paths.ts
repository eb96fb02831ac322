import { fileURLToPath } from 'node:url';

/** The package root (same depth from src/ and dist/), for shipped files such as config/demo.yaml. */
export const packageRoot = fileURLToPath(new URL('../', import.meta.url));

export function shipped(relative: string): string {
  return fileURLToPath(new URL(`../${relative}`, import.meta.url));
}
