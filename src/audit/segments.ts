import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The journal's segment files: `journal-<instance>-<first seq, 12 digits>.jsonl`, one record per
 * line, named so that listing them in order is reading the chain in order.
 */

/** Up to `length` bytes of a file from `offset`. */
export async function readRange(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const n = Math.max(0, Math.min(length, size - offset));
    const buffer = Buffer.alloc(n);
    if (n > 0) await fh.read(buffer, 0, n, offset);
    return buffer;
  } finally {
    await fh.close();
  }
}

const SEGMENT = /^journal-(.+)-(\d{12})\.jsonl$/;

export function segmentName(instance: string, firstSeq: number): string {
  return `journal-${instance}-${String(firstSeq).padStart(12, '0')}.jsonl`;
}

/** Segment files of one instance, oldest first. */
export async function listSegments(dir: string, instance?: string): Promise<{ file: string; instance: string; firstSeq: number }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, m: SEGMENT.exec(name) }))
    .filter((x): x is { name: string; m: RegExpExecArray } => x.m !== null && (instance === undefined || x.m[1] === instance))
    .map(({ name, m }) => ({ file: join(dir, name), instance: m[1] as string, firstSeq: Number(m[2]) }))
    .sort((a, b) => a.instance.localeCompare(b.instance) || a.firstSeq - b.firstSeq);
}

