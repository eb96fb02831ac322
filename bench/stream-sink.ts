import { customer } from '../src/demo/dataset.js';

/** Reads the masked stream from stdin; prints bytes and how many clear mobile numbers it saw. */
const mobiles = new Set(Array.from({ length: 1000 }, (_, i) => customer(i + 1).mobile));
let bytes = 0;
let leaked = 0;
let tail = '';
process.stdin.on('data', (chunk: Buffer) => {
  bytes += chunk.length;
  const text = tail + chunk.toString('latin1');
  for (const m of text.match(/1[3-9]\d{9}/g) ?? []) if (mobiles.has(m)) leaked++;
  tail = text.slice(-10);
});
process.stdin.on('end', () => console.log(JSON.stringify({ bytes, leaked })));
