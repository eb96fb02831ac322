import { isValidLuhn, isValidResidentIdChecksum } from './cn-checksums.js';

/**
 * Chinese personal-information display presets (the de-facto conventions of GB/T 35273-style
 * display limitation). Each takes the clear value and returns the masked text. A value that does
 * not have the expected shape is not guessed at: it is masked whole (fail closed), so a preset
 * can never reveal more than intended.
 */

export type MaskPreset =
  | 'resident_id'
  | 'mobile'
  | 'bank_card'
  | 'bank_card_last4'
  | 'name'
  | 'address'
  | 'email'
  | 'uscc'
  | 'fixed_phone'
  | 'full';

/** Full-width digits and letters (１２３, Ｘ) become ASCII, so they cannot dodge a pattern. */
export function normaliseWidth(value: string): string {
  // Plain ASCII is already normal; skipping it keeps the hot path cheap.
  return NON_ASCII.test(value) ? value.normalize('NFKC') : value;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the full ASCII range is the point
const NON_ASCII = /[^\u0000-\u007f]/;
const SURROGATE = /[\uD800-\uDFFF]/;

/** Code points of a string; plain UTF-16 indexing when there are no surrogate pairs. */
function codePoints(value: string): string[] | string {
  return SURROGATE.test(value) ? Array.from(value) : value;
}

/** Everything replaced: one fill character per code point, at least four (length is a hint). */
export function maskAll(value: string, fill = '*'): string {
  return fill.repeat(Math.max(4, codePoints(value).length));
}

export function keepEnds(value: string, first: number, last: number, fill = '*'): string {
  const chars = codePoints(value);
  if (chars.length <= first + last) return maskAll(value, fill);
  if (typeof chars === 'string') return chars.slice(0, first) + fill.repeat(chars.length - first - last) + chars.slice(chars.length - last);
  return chars.slice(0, first).join('') + fill.repeat(chars.length - first - last) + chars.slice(chars.length - last).join('');
}

const SEPARATORS = /[\s\-–—.()（）]/g;

const PLAIN_ID = /^\d{17}[\dXx]$/;
const PLAIN_MOBILE = /^1[3-9]\d{9}$/;
const PLAIN_CARD = /^\d{13,19}$/;

export function maskResidentId(value: string): string {
  // Fast path: the canonical form needs no normalising.
  if (PLAIN_ID.test(value)) return `${value.slice(0, 4)}**********${value.slice(14)}`;
  const v = normaliseWidth(value).replace(SEPARATORS, '');
  if (/^\d{17}[\dXx]$/.test(v) || /^\d{15}$/.test(v)) return keepEnds(v, 4, 4);
  return maskAll(value);
}

const MOBILE = /^(?:\+?86)?(1[3-9]\d{9})$/;

export function maskMobile(value: string): string {
  if (PLAIN_MOBILE.test(value)) return `${value.slice(0, 3)}****${value.slice(7)}`;
  const v = normaliseWidth(value).trim();
  const compact = v.replace(SEPARATORS, '');
  const m = MOBILE.exec(compact);
  if (!m) return maskAll(value);
  const digits = m[1] as string;
  const prefix = compact.startsWith('+86') ? '+86 ' : compact.startsWith('86') && compact.length === 13 ? '86 ' : '';
  return `${prefix}${digits.slice(0, 3)}****${digits.slice(7)}`;
}

export function maskBankCard(value: string, lastFourOnly = false): string {
  // The canonical form (13-19 plain digits) is tested once; anything else is normalised first.
  let digits = value;
  if (!PLAIN_CARD.test(value)) {
    digits = normaliseWidth(value).replace(SEPARATORS, '');
    if (!PLAIN_CARD.test(digits)) return maskAll(value);
  }
  return lastFourOnly ? `**** ${digits.slice(-4)}` : `${digits.slice(0, 4)} **** **** ${digits.slice(-4)}`;
}

// Two-character (复姓) surnames: the whole surname is kept, not just its first character.
export const COMPOUND_SURNAMES: ReadonlySet<string> = new Set([
  '欧阳', '司马', '诸葛', '上官', '东方', '皇甫', '尉迟', '公孙', '慕容', '长孙', '宇文', '司徒', '夏侯', '轩辕',
  '令狐', '端木', '独孤', '南宫', '西门', '百里', '呼延', '澹台', '公冶', '宗政', '濮阳', '太史', '申屠', '钟离',
]);

const WHITESPACE = /\s/;

export function maskName(value: string): string {
  const trimmed = value.trim();
  const chars = codePoints(trimmed);
  if (chars.length === 0) return maskAll(value);
  if (chars.length === 1) return '*';
  const firstTwo = typeof chars === 'string' ? chars.slice(0, 2) : chars.slice(0, 2).join('');
  const surnameLength = chars.length > 2 && COMPOUND_SURNAMES.has(firstTwo) ? 2 : 1;
  const surname = typeof chars === 'string' ? chars.slice(0, surnameLength) : chars.slice(0, surnameLength).join('');
  if (!WHITESPACE.test(trimmed)) return surname + '*'.repeat(chars.length - surnameLength);
  // Latin names: the first letter kept, every other non-space character masked.
  const rest = Array.from(chars.slice(surnameLength)).map((c) => (WHITESPACE.test(c) ? c : '*'));
  return surname + rest.join('');
}

// Province (省/自治区/直辖市), prefecture (市/州/地区/盟), county (区/县/市/旗): kept; the rest masked.
const ADDRESS_LEVELS = /^((?:[^省市]{2,7}?(?:省|自治区))?(?:[^市]{1,8}?(?:市|自治州|地区|盟))?(?:[^区县市旗]{1,8}?(?:区|县|市|旗))?)/u;

export function maskAddress(value: string): string {
  const m = ADDRESS_LEVELS.exec(value);
  const kept = m?.[1] ?? '';
  if (kept === '' || kept === value) return kept === '' ? maskAll(value) : `${kept}****`;
  return `${kept}****`;
}

export function maskEmail(value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 1 || at === value.length - 1) return maskAll(value);
  return `${String.fromCodePoint(value.codePointAt(0) as number)}***${value.slice(at)}`;
}

export function maskUscc(value: string): string {
  const v = normaliseWidth(value).trim().toUpperCase();
  if (!/^[0-9A-HJ-NP-RT-UW-Y]{18}$/.test(v)) return maskAll(value);
  return `${v.slice(0, 8)}${'*'.repeat(10)}`;
}

export function maskFixedPhone(value: string): string {
  const v = normaliseWidth(value).trim();
  const m = /^(\(?0\d{2,3}\)?)[\s-]?(\d{7,8})(?:[-转]\d{1,6})?$/.exec(v);
  if (!m) return maskAll(value);
  const local = m[2] as string;
  return `${m[1]}-${'*'.repeat(local.length - 4)}${local.slice(-4)}`;
}

export function applyPreset(preset: MaskPreset, value: string): string {
  switch (preset) {
    case 'resident_id':
      return maskResidentId(value);
    case 'mobile':
      return maskMobile(value);
    case 'bank_card':
      return maskBankCard(value);
    case 'bank_card_last4':
      return maskBankCard(value, true);
    case 'name':
      return maskName(value);
    case 'address':
      return maskAddress(value);
    case 'email':
      return maskEmail(value);
    case 'uscc':
      return maskUscc(value);
    case 'fixed_phone':
      return maskFixedPhone(value);
    case 'full':
      return maskAll(value);
  }
}

export { isValidLuhn, isValidResidentIdChecksum };
