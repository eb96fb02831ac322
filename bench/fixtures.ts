import { customer } from '../src/demo/dataset.js';

/** Customer-record JSON of about the requested size, from the demo dataset (realistic PII). */
export function customerJson(targetBytes: number): string {
  const items = [];
  let size = 40;
  for (let id = 1; size < targetBytes; id++) {
    const c = customer(id);
    items.push(c);
    size += JSON.stringify(c).length + 1;
  }
  return JSON.stringify({ page: 1, pageSize: items.length, total: 1000, items });
}
