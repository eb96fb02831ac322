import t from 'tap';
import { emptyHits, maskDetected } from '../../src/mask/detectors.js';
import { looksLikeUscc, usccCheckChar } from '../../src/mask/text-identifiers.js';

/**
 * Free text as staff write it: e-mails, landlines, passport numbers and unified social credit
 * codes pasted into remarks are masked in place; order numbers, amounts, times and product codes
 * that merely look like them are left alone.
 */

t.test('USCC check character (GB 32100-2015) on published codes', async (t) => {
  for (const code of ['91350100M000100Y43', '91110000600037341L', '9144030071526726XG', '91310000775785552L', '12100000400000624D']) {
    t.equal(usccCheckChar(code.slice(0, 17)), code[17], code);
    t.ok(looksLikeUscc(code), `${code} is a USCC`);
  }
  t.notOk(looksLikeUscc('91350100M000100Y44'), 'a wrong check character');
  t.notOk(looksLikeUscc('110105194912310021'), 'an all-digit reference without a market-regulation code');
});

const hits: [string, string, string, keyof ReturnType<typeof emptyHits>][] = [
  ['e-mail', '请回复 zhang.san@example.com 谢谢', '请回复 z***@example.com 谢谢', 'email'],
  ['e-mail glued to Chinese', '邮箱nana_ouyang+loan@corp.example.cn。', '邮箱n***@corp.example.cn。', 'email'],
  ['landline with area code', '办公电话 010-62345678', '办公电话 010-****5678', 'landline'],
  ['landline in parentheses', '座机(0755)23456789', '座机(0755)-****6789', 'landline'],
  ['landline in full-width parentheses', '座机（021）62345678', '座机(021)-****5678', 'landline'],
  ['landline, 4-digit area code, 7 digits', '电话 0898-6234567', '电话 0898-***4567', 'landline'],
  ['landline run together', '家里电话02162345678', '家里电话021-****5678', 'landline'],
  ['landline with extension', '总机 0571-87654321-8001', '总机 0571-****4321', 'landline'],
  ['passport E + 8 digits', '护照号 E12345678', '护照号 E******78', 'passport'],
  ['passport, 2012 series', '护照EA1234567已过期', '护照E******67已过期', 'passport'],
  ['passport G + 8 digits', 'passport G87654321 on file', 'passport G******21 on file', 'passport'],
  ['USCC', '统一社会信用代码 91350100M000100Y43 已核验', '统一社会信用代码 91350100********** 已核验', 'uscc'],
  ['USCC glued to Chinese', '企业代码91110000600037341L。', '企业代码91110000**********。', 'uscc'],
  ['a name after a role', '客户张伟来电询问还款', '客户张*来电询问还款', 'name'],
  ['a compound surname after a role', '联系人：欧阳娜娜，电话待补', '联系人：欧阳**，电话待补', 'name'],
  ['a name before a form of address', '李建国先生已还清', '李**先生已还清', 'name'],
  ['an address with road and number', '现住浙江省杭州市西湖区文三路90号3栋1201室，上门前联系', '现住浙江省杭州市西湖区****，上门前联系', 'address'],
];

for (const [what, text, masked, kind] of hits) {
  t.test(`masks ${what}`, async (t) => {
    const h = emptyHits();
    t.equal(maskDetected(text, h), masked);
    t.equal(h[kind], 1, `one ${kind} hit`);
  });
}

const lookAlikes: [string, string][] = [
  ['an order number after a letter', '订单号 E1234567890'],
  ['a product code', 'SKU DS1234567X, EA12345678B'],
  ['an amount', '金额 12345678.00 元'],
  ['a timestamp', '2026-12-02 10:00:00 回访'],
  ['a date range', '2026-01-01至2026-12-31'],
  ['an invoice number', '发票号码 04403210234567890'],
  ['a contract number', 'HT-2026-017 / NDA-2026-017'],
  ['an e-mail-like handle without a domain', '微信 @nana_ouyang 已添加'],
  ['a short number with an area-code-like start', '分机 0101'],
  ['a loan id', 'loan L202612020001 放款'],
  ['a passport-shaped part of a longer Latin code', 'okEA1234567 / XE12345678'],
  ['a place name without a street and number', '客户在北京市朝阳区的网点办理业务'],
  ['a word that starts with a surname character', '客户经理黄金周后回访'],
  ['a surname and a form of address only', '王先生来电咨询'],
];

t.test('look-alikes are left alone', async (t) => {
  for (const [what, text] of lookAlikes) {
    const h = emptyHits();
    t.equal(maskDetected(text, h), text, what);
    t.same(h, emptyHits(), `${what}: no hit`);
  }
});

t.test('planted in random text: every planted identifier is masked, the text around it kept', async (t) => {
  let seed = 20261202;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const filler = ['客户', '来电', '咨询', '还款', '事宜', '，', '。', ' ', '已', '回访', '请', '核实', '：', '（', '）'];
  const planted = ['wang.wei@example.cn', '010-62345678', 'E12345678', '91350100M000100Y43', '(0755)23456789', 'EA1234567'];
  for (let round = 0; round < 200; round++) {
    const value = planted[round % planted.length] as string;
    const words = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => filler[Math.floor(rand() * filler.length)] as string);
    const at = Math.floor(rand() * (words.length + 1));
    const text = [...words.slice(0, at), value, ...words.slice(at)].join('');
    const out = maskDetected(text, emptyHits());
    t.notOk(out.includes(value), `round ${round}: ${value} masked`);
    if (out.includes(value)) break;
  }
});
