import t from 'tap';
// Seeded PRNG (the demo dataset's), so a failure names a reproducible seed.
import { bankCardNumber, prng, residentId } from '../../src/demo/dataset.js';
import { residentIdCheckChar } from '../../src/mask/cn-checksums.js';
import { FieldReport } from '../../src/mask/report.js';
import { ArrayMaskingStream } from '../../src/mask/stream-array.js';
import { applyView } from '../../src/mask/walk.js';
import { planFor } from '../helpers/masking.js';

const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', '', 'a.b', '[*]', '$', '名字', '😀', 'toString', 'hasOwnProperty'];
const CLASSIFIED = ['idNumber', 'mobile', 'bankCard', 'name'];

function plantedValues(rand: () => number) {
  const id = residentId(rand, '110101', `19${10 + Math.floor(rand() * 89)}-0${1 + Math.floor(rand() * 9)}-1${Math.floor(rand() * 9)}`, rand() < 0.5 ? 'F' : 'M');
  const mobile = `1${['38', '39', '50', '86', '99'][Math.floor(rand() * 5)]}${String(Math.floor(rand() * 1e8)).padStart(8, '0')}`;
  const card = bankCardNumber(rand, '622202', 19);
  const name = `欧阳${String.fromCodePoint(0x4e00 + Math.floor(rand() * 2000))}${String.fromCodePoint(0x4e00 + Math.floor(rand() * 2000))}`;
  return { id, mobile, card, name };
}

/**
 * A random document with clear values planted: under classified keys, inside free text of
 * C1 and unknown fields, as bare array items, deep inside nests.
 */
function randomDoc(rand: () => number, planted: string[], depth: number): unknown {
  const roll = rand();
  if (depth > 5 || roll < 0.25) {
    const v = plantedValues(rand);
    const pick = Math.floor(rand() * 6);
    if (pick === 0) {
      planted.push(v.mobile);
      return `备注：联系电话${v.mobile}，谢谢`;
    }
    if (pick === 1) {
      planted.push(v.id);
      return `id ${v.id}`;
    }
    if (pick === 2) {
      planted.push(v.card);
      return v.card;
    }
    if (pick === 3) return Math.floor(rand() * 1e6);
    if (pick === 4) return rand() < 0.5;
    return `文本 ${String.fromCodePoint(0x1f600 + Math.floor(rand() * 50))} ${Math.floor(rand() * 1e12)}`;
  }
  if (roll < 0.45) {
    const n = Math.floor(rand() * 6);
    return Array.from({ length: n }, () => randomDoc(rand, planted, depth + 1));
  }
  const obj: Record<string, unknown> = Object.create(null);
  const n = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) {
    const kind = rand();
    if (kind < 0.35) {
      const key = CLASSIFIED[Math.floor(rand() * CLASSIFIED.length)] as string;
      const v = plantedValues(rand);
      const value = { idNumber: v.id, mobile: v.mobile, bankCard: v.card, name: v.name }[key] as string;
      planted.push(value);
      obj[key] = value;
    } else if (kind < 0.5) {
      obj[HOSTILE_KEYS[Math.floor(rand() * HOSTILE_KEYS.length)] as string] = randomDoc(rand, planted, depth + 1);
    } else if (kind < 0.65) {
      obj.remarks = randomDoc(rand, planted, 6);
    } else {
      obj[`k${Math.floor(rand() * 1000)}`] = randomDoc(rand, planted, depth + 1);
    }
  }
  return obj;
}

function leaks(output: string, planted: string[]): string[] {
  return planted.filter((v) => output.includes(v));
}

const seed = Number(process.env.CUSTODIAN_PROPERTY_SEED ?? Date.now() % 1_000_000);

t.test(`random documents never show a planted value (seed ${seed})`, async (t) => {
  const rand = prng(seed);
  for (const unknownFields of ['drop', 'keep'] as const) {
    const plan = planFor({ unknownFields });
    let plantedTotal = 0;
    const failures: string[] = [];
    for (let i = 0; i < 300; i++) {
      const planted: string[] = [];
      const doc = randomDoc(rand, planted, 0);
      const json = JSON.stringify(doc);
      const out = JSON.stringify(applyView(JSON.parse(json), plan, new FieldReport()));
      plantedTotal += planted.length;
      const leaked = leaks(out, planted);
      if (leaked.length > 0) failures.push(`doc ${i}: ${leaked.length} planted value(s) visible`);
    }
    t.same(failures, [], `unknownFields: ${unknownFields} (${plantedTotal} planted values)`);
    t.ok(plantedTotal > 500);
  }
});

t.test('deep nesting to 1,000 levels, huge arrays, unicode keys', async (t) => {
  const id = `11010119900307123${residentIdCheckChar('11010119900307123')}`;
  let deep: unknown = { mobile: '13812345678', remarks: `身份证${id}` };
  for (let i = 0; i < 1000; i++) deep = i % 2 ? { items: deep } : [deep];
  const deepOut = JSON.stringify(applyView(JSON.parse(JSON.stringify(deep)), planFor({ unknownFields: 'keep' }), new FieldReport()));
  t.ok(!deepOut.includes('13812345678'), 'mobile masked 1,000 levels down');
  t.ok(!deepOut.includes(id), 'ID in free text masked 1,000 levels down');
  t.ok(deepOut.includes('138****5678'));

  let tooDeep: unknown = 1;
  for (let i = 0; i < 3000; i++) tooDeep = [tooDeep];
  t.throws(() => applyView(tooDeep, planFor(), new FieldReport()), /too_deep/, 'refused, not a stack overflow');

  const huge = Array.from({ length: 200_000 }, (_, i) => ({ id: i, mobile: '13912345678', 名字: '😀' }));
  const hugeOut = applyView(huge, planFor({ unknownFields: 'keep' }), new FieldReport()) as { mobile: string; 名字: string }[];
  t.equal(hugeOut.length, 200_000);
  t.equal(hugeOut[199_999]?.mobile, '139****5678');
  t.equal(hugeOut[5]?.名字, '😀');
});

t.test('the streaming masker gives exactly the buffered result, whatever the chunking', async (t) => {
  const rand = prng(seed + 1);
  const plan = planFor({ unknownFields: 'keep' });
  for (let round = 0; round < 40; round++) {
    const planted: string[] = [];
    const items = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => randomDoc(rand, planted, 2));
    const json = JSON.stringify(items, null, round % 3 === 0 ? 2 : undefined);
    const expected = JSON.stringify(applyView(JSON.parse(json), plan, new FieldReport()));
    const bytes = Buffer.from(json);
    const stream = new ArrayMaskingStream(plan, new FieldReport(), 1 << 20);
    const chunks: string[] = [];
    stream.on('data', (c: Buffer | string) => chunks.push(c.toString()));
    const done = new Promise<void>((ok, fail) => {
      stream.on('end', ok);
      stream.on('error', fail);
    });
    // Cut at random points, including inside multi-byte UTF-8 sequences and escapes.
    let at = 0;
    while (at < bytes.length) {
      const size = 1 + Math.floor(rand() * 40);
      stream.write(bytes.subarray(at, at + size));
      at += size;
    }
    stream.end();
    await done;
    t.equal(chunks.join(''), expected, `round ${round}`);
  }
});
