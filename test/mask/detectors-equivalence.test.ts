import t from 'tap';
// Seeded PRNG (the demo dataset's), so a failure names a reproducible seed.
import { customer, prng } from '../../src/demo/dataset.js';
import { ALL_DETECTORS, type DetectorHits, emptyHits, looksLikeBankCard, looksLikeMobile, looksLikeResidentId, maskDetected } from '../../src/mask/detectors.js';
import { maskBankCard, maskMobile, maskResidentId } from '../../src/mask/presets.js';
import { maskTextIdentifiers, maskUsccs } from '../../src/mask/text-identifiers.js';

/**
 * The detector only searches runs of identifier characters, and decides bare numbers without
 * its patterns. This reference runs the three patterns over the whole text, as the definition
 * of what must be found: on random text full of near-misses both must agree, value and counts.
 */
function reference(text: string, hits: DetectorHits): string {
  // USCCs before and the other text identifiers after, as maskDetected does: what is compared
  // is the number scan between them.
  return maskTextIdentifiers(referenceNumbers(maskUsccs(text, hits), hits), hits, ALL_DETECTORS);
}

function referenceNumbers(text: string, hits: DetectorHits): string {
  let out = text.replace(/(?<![0-9])(\d{17}[\dXx])(?![0-9])/g, (m) => {
    if (!looksLikeResidentId(m)) return m;
    hits.residentId++;
    return maskResidentId(m);
  });
  out = out.replace(/(?<![0-9])(\d{4}(?:[ -]?\d){9,15})(?![0-9])/g, (m) => {
    if (!looksLikeBankCard(m)) return m;
    hits.bankCard++;
    return maskBankCard(m);
  });
  return out.replace(/(?<![0-9+])((?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d){8})(?![0-9])/g, (m) => {
    if (!looksLikeMobile(m)) return m;
    hits.mobile++;
    return maskMobile(m);
  });
}

const seed = Number(process.env.CUSTODIAN_PROPERTY_SEED ?? Date.now() % 1_000_000);

t.test(`the run-based detector finds exactly what the patterns find (seed ${seed})`, async (t) => {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const real = Array.from({ length: 50 }, (_, i) => customer(i + 1));
  const pieces = [
    () => pick(real).idNumber as string,
    () => pick(real).mobile as string,
    () => pick(real).bankCard as string,
    () => `+86 ${pick(real).mobile}`,
    () => `86${pick(real).mobile}`,
    () => (pick(real).mobile as string).replace(/(\d{3})(\d{4})/, '$1-$2-'),
    () => (pick(real).bankCard as string).replace(/(\d{4})/g, '$1 '),
    () => `${(pick(real).idNumber as string).slice(0, 17)}x`,
    () => String(Math.floor(rand() * 1e15)),
    () => String(1_700_000_000_000 + Math.floor(rand() * 1e9)),
    () => pick(['1', '8', '6', '0', '9', ' ', '-', '+', 'X', 'x', 'a', 'Z', '中', '，', '号', ':', '\n']),
  ];
  let differences = 0;
  let found = 0;
  for (let i = 0; i < 20_000; i++) {
    let text = '';
    const parts = 1 + Math.floor(rand() * 6);
    for (let p = 0; p < parts; p++) text += pick(pieces)();
    const expectedHits = emptyHits();
    const actualHits = emptyHits();
    const expected = reference(text, expectedHits);
    const actual = maskDetected(text, actualHits);
    if (expected !== text) found++;
    if (actual !== expected || JSON.stringify(actualHits) !== JSON.stringify(expectedHits)) {
      if (differences++ < 5) t.same({ text, actual, hits: actualHits }, { text, actual: expected, hits: expectedHits }, 'same output and counts');
    }
  }
  t.equal(differences, 0, 'no text where the two disagree');
  t.ok(found > 5_000, `the table is not trivial: ${found} texts had something to mask`);
});
