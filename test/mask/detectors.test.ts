import t from 'tap';
import { customer } from '../../src/demo/dataset.js';
import { emptyHits, maskDetected } from '../../src/mask/detectors.js';

t.test('identifiers in free text are found, validated and masked in place', async (t) => {
  const c = customer(42);
  const cases: [string, string][] = [
    [`客户报身份证号${c.idNumber}，与档案一致`, `客户报身份证号${c.idNumber.slice(0, 4)}**********${c.idNumber.slice(-4)}，与档案一致`],
    ['备用电话13812345678。', '备用电话138****5678。'],
    ['call +86 138-1234-5678 now', 'call +86 138****5678 now'],
    ['tel:15912345678,15012345678', 'tel:159****5678,150****5678'],
    [`卡号${c.bankCard}扣款`, `卡号${c.bankCard.slice(0, 4)} **** **** ${c.bankCard.slice(-4)}扣款`],
    ['card 4111 1111 1111 1111 declined', 'card 4111 **** **** 1111 declined'],
  ];
  for (const [input, expected] of cases) {
    const hits = emptyHits();
    t.equal(maskDetected(input, hits), expected, input);
    t.ok(hits.residentId + hits.mobile + hits.bankCard > 0);
  }
});

t.test('numbers that are not identifiers are left alone', async (t) => {
  const corpus = [
    '1732694400000', // 13-digit millisecond timestamp
    '1700000000042',
    'ts=1732694400123 ok',
    '订单号 202411270001234567', // 18-digit order id, bad check digit
    '订单号 123456789012',
    '金额 100000000.00 元',
    'amount 12345678901.5',
    '99999999999', // 11 digits, not an allocated mobile prefix
    '12812345678',
    '10012345678',
    '110101199013071234', // month 13
    '110101203003071234', // born in the future
    '910101199003071234', // area code cannot start with 9
    '6222021234567890124', // Luhn fails
    '1234567890123456', // Luhn-valid? not a card issuer prefix
    '4111111111111112',
    'version 3.14159265358979',
    'uuid 123e4567-e89b-12d3-a456-426614174000',
    'IBAN-like 00001234567890123456789',
  ];
  for (let i = 0; i < 2000; i++) corpus.push(String(1_600_000_000_000 + i * 7919)); // timestamps
  for (let i = 0; i < 2000; i++) corpus.push(`ORD${String(10_000_000_000 + i * 104729)}`); // glued to letters, but 10x is no allocated mobile prefix
  const hits = emptyHits();
  let changed = 0;
  for (const text of corpus) if (maskDetected(text, hits) !== text) changed++;
  t.equal(changed, 0, 'no false positive');
  t.same(hits, emptyHits());
});

t.test('the demo remarks: every planted ID and mobile is caught', async (t) => {
  let planted = 0;
  const leaked: number[] = [];
  for (let id = 1; id <= 1000; id++) {
    const { remarks } = customer(id);
    const masked = maskDetected(remarks, emptyHits());
    if (/\d{11}/.test(remarks)) planted++;
    if (/(?<!\d)1[3-9]\d{9}(?!\d)|\d{17}[\dX]/.test(masked)) leaked.push(id);
  }
  t.ok(planted > 200, `${planted} remarks carry an identifier`);
  t.same(leaked, [], 'none survives the detectors');
});

// Regression (hostile-peer review): identifiers staff write glued to letters or in full-width
// digits were released in clear to customer service.
t.test('identifiers glued to letters, in full-width digits, or with impossible dates are masked', async (t) => {
  const cases: [string, string, keyof ReturnType<typeof emptyHits>][] = [
    ['mobile13812345678', 'mobile138****5678', 'mobile'],
    ['13812345678ext', '138****5678ext', 'mobile'],
    ['ID11010519491231002X', 'ID1101**********002X', 'residentId'],
    ['card6222021234567894', 'card6222 **** **** 7894', 'bankCard'],
    ['电话１３８１２３４５６７８谢谢', '电话138****5678谢谢', 'mobile'],
    ['身份证３３０１０６１９８７１００８２０８７', '身份证3301**********2087', 'residentId'],
    // Checksum-valid, month 13: a forged or mistyped ID number is masked all the same.
    ['id 110105199913310016', 'id 1101**********0016', 'residentId'],
    // Luhn-valid, 16 digits, no known issuer prefix: masked (erring towards masking).
    ['acct 9400123456789012', 'acct 9400 **** **** 9012', 'bankCard'],
  ];
  for (const [input, expected, kind] of cases) {
    const hits = emptyHits();
    t.equal(maskDetected(input, hits), expected, input);
    t.equal(hits[kind], 1, `${input}: counted as ${kind}`);
  }
  // Below 16 digits an issuer prefix is still required: millisecond timestamps stay.
  t.equal(maskDetected('ts1732694400000', emptyHits()), 'ts1732694400000');
  // Full-width text without an identifier keeps its characters as typed.
  t.equal(maskDetected('房号１２０３，电话请留言', emptyHits()), '房号１２０３，电话请留言');
});
