import { customer } from '../src/demo/dataset.js';

/**
 * Customer-record JSON of about the requested size in UTF-8 bytes (what goes over the wire), from
 * the demo dataset (realistic PII). Counted in bytes, not characters: the Chinese text takes three
 * bytes a character, and a count of characters made the "50 KB" body 62.7 KB.
 */
export function customerJson(targetBytes: number): string {
  const items = [];
  let size = 40;
  for (let id = 1; size < targetBytes; id++) {
    const c = customer(id);
    items.push(c);
    size += Buffer.byteLength(JSON.stringify(c)) + 1;
  }
  return JSON.stringify({ page: 1, pageSize: items.length, total: 1000, items });
}
