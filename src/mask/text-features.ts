/**
 * One pass over a text that says which detectors could possibly match it, so the others are not
 * run at all. Each flag is a necessary condition of its detector's pattern, never a sufficient
 * one: a flag that is set only means the pattern runs. Masking one identifier never creates the
 * characters another needs (it writes `*` and keeps characters already there), so the flags of
 * the original text hold for every later stage.
 */
export const COULD_HOLD_NUMBER = 1; // 11+ digits: a mobile is the shortest of ID, card, mobile
export const COULD_HOLD_USCC = 2; // a run of 18 digits and capital letters
export const COULD_HOLD_EMAIL = 4; // an @
export const COULD_HOLD_PASSPORT = 8; // E, G, D, S or P, and 7+ digits
export const COULD_HOLD_LANDLINE = 16; // a 0, and 10+ digits (area code and local number)
export const COULD_HOLD_ADDRESS = 32; // 省 or 市, and 号 or 弄 (a level and a house number)
export const COULD_HOLD_NAME_AFTER_ROLE = 64; // the first character of a role word (客户, 借款人…)
export const COULD_HOLD_NAME_BEFORE_FORM = 128; // the first character of 先生, 女士, 小姐, 本人
/** Any of the kinds text-identifiers.ts masks after the numbers. */
export const COULD_HOLD_TEXT_IDENTIFIER = COULD_HOLD_EMAIL | COULD_HOLD_PASSPORT | COULD_HOLD_LANDLINE | COULD_HOLD_ADDRESS | COULD_HOLD_NAME_AFTER_ROLE | COULD_HOLD_NAME_BEFORE_FORM;

// What each character can contribute, looked up once per character (one table load instead of a
// chain of comparisons: most characters of a remark are Chinese and contribute nothing).
const DIGIT = 1; // ASCII or full-width digit
const RUN = 2; // ASCII digit or capital letter: part of a USCC-shaped run
const PASSPORT_LETTER = 4;
const AT = 8;
const ZERO = 16;
const LEVEL = 32; // 省 市
const HOUSE = 64; // 号 弄
const ROLE = 128; // first characters of the role words
const FORM = 256; // first characters of the forms of address
const NUMBER_RUN = 512; // what a resident ID, card or mobile is written with (see isNumberRunChar)

const TRAITS = (() => {
  const table = new Uint16Array(65536);
  for (let c = 48; c <= 57; c++) table[c] = DIGIT | RUN;
  table[48] = DIGIT | RUN | ZERO;
  for (let c = 0xff10; c <= 0xff19; c++) table[c] = DIGIT;
  for (let c = 65; c <= 90; c++) table[c] = RUN;
  for (const letter of 'EGDSP') table[letter.charCodeAt(0)] = RUN | PASSPORT_LETTER;
  table[64] = AT;
  for (const ch of '省市') table[ch.charCodeAt(0)] = LEVEL;
  for (const ch of '号弄') table[ch.charCodeAt(0)] = HOUSE;
  for (const ch of '客借联担配户姓') table[ch.charCodeAt(0)] = ROLE;
  table['本'.charCodeAt(0)] = ROLE | FORM;
  for (const ch of '先女小') table[ch.charCodeAt(0)] = FORM;
  for (const ch of '0123456789 -+Xx０１２３４５６７８９Ｘｘ') table[ch.charCodeAt(0)] = (table[ch.charCodeAt(0)] as number) | NUMBER_RUN;
  return table;
})();

/**
 * Characters a resident ID, card or mobile number can be written with: ASCII and full-width
 * digits, the separators space and dash, the `+` of `+86` and the check letter X.
 */
export function isNumberRunChar(c: number): boolean {
  return ((TRAITS[c] as number) & NUMBER_RUN) !== 0;
}

export function textFeatures(text: string): number {
  let digits = 0;
  let run = 0;
  let longestRun = 0;
  let seen = 0;
  for (let i = 0; i < text.length; i++) {
    const traits = TRAITS[text.charCodeAt(i)] as number;
    if (traits === 0) {
      run = 0;
      continue;
    }
    seen |= traits;
    if (traits & DIGIT) digits++;
    if (traits & RUN) {
      if (++run > longestRun) longestRun = run;
    } else run = 0;
  }
  let flags = 0;
  if (digits >= 11) flags |= COULD_HOLD_NUMBER;
  if (longestRun >= 18) flags |= COULD_HOLD_USCC;
  if (seen & AT) flags |= COULD_HOLD_EMAIL;
  if (seen & PASSPORT_LETTER && digits >= 7) flags |= COULD_HOLD_PASSPORT;
  if (seen & ZERO && digits >= 10) flags |= COULD_HOLD_LANDLINE;
  if (seen & LEVEL && seen & HOUSE) flags |= COULD_HOLD_ADDRESS;
  if (seen & ROLE) flags |= COULD_HOLD_NAME_AFTER_ROLE;
  if (seen & FORM) flags |= COULD_HOLD_NAME_BEFORE_FORM;
  return flags;
}
