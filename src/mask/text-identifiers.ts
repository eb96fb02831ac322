import { isValidResidentIdChecksum } from './cn-checksums.js';
import { replaceCounted } from './replace-counted.js';
import { COULD_HOLD_ADDRESS, COULD_HOLD_EMAIL, COULD_HOLD_LANDLINE, COULD_HOLD_NAME_AFTER_ROLE, COULD_HOLD_NAME_BEFORE_FORM, COULD_HOLD_PASSPORT } from './text-features.js';
import { COMPOUND_SURNAMES, keepEnds, maskAddress, maskEmail, maskName, maskUscc } from './presets.js';

/**
 * Identifiers staff paste into free text besides ID, mobile and card numbers: e-mail addresses,
 * landlines, passport numbers and unified social credit codes (统一社会信用代码). Each is matched by
 * its structure and, where one exists, its check character, and masked in place with the preset
 * a structured field of that kind gets. A cheap test on the text decides whether each pattern
 * runs at all, so ordinary sentences cost one or two character scans.
 */

export interface TextIdentifierHits {
  email: number;
  landline: number;
  passport: number;
  uscc: number;
  name: number;
  address: number;
}

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}/g;

// Area codes: 010 and 02x take an 8-digit local number; 0[3-9]xx a 7 or 8-digit one starting 2–8.
// Written as (0xx)12345678, 0xx-12345678, 0xx 12345678, or run together; an extension may follow.
const LANDLINE = /(?<![0-9])(?:[(（](0(?:10|2\d))[)）]\s?|(0(?:10|2\d))[- ]?)([2-8]\d{7})(?:(?:-|转|ext\.?)\d{1,6})?(?![0-9])|(?<![0-9])(?:[(（](0[3-9]\d{2})[)）]\s?|(0[3-9]\d{2})[- ]?)([2-8]\d{6,7})(?:(?:-|转|ext\.?)\d{1,6})?(?![0-9])/g;

// Ordinary passports E + 8 digits or E + letter + 7 digits (2012 series, no I or O), G + 8 digits
// (older); diplomatic, service and official ones D/S/P(E) + 7 digits. Not glued to letters or
// digits on either side: a longer code that contains one is a product or order code.
const PASSPORT = /(?<![A-Za-z0-9])(?:E[0-9]{8}|E[A-HJ-NP-Z][0-9]{7}|G[0-9]{8}|(?:DE|SE|PE|[DSP])[0-9]{7})(?![A-Za-z0-9])/g;

// GB 32100-2015: registration authority, category, 6-digit division code, 9-character
// organisation code, check character; the alphabet leaves out I, O, Z, S and V.
const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] as const;
const USCC = /(?<![0-9A-Za-z])[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}(?![0-9A-Za-z])/g;

/** The GB 32100 check character of a USCC's first 17 characters. */
export function usccCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_ALPHABET.indexOf(first17[i] as string) * (USCC_WEIGHTS[i] as number);
  return USCC_ALPHABET[(31 - (sum % 31)) % 31] as string;
}

/**
 * A USCC by its check character. An all-digit one must also carry a market-regulation code
 * (91/92/93: companies, sole traders, cooperatives — nearly all of them): otherwise one 18-digit
 * reference in 31 would pass the check by chance. (Resident ID numbers are matched before this.)
 */
export function looksLikeUscc(candidate: string): boolean {
  if (candidate.length !== 18 || usccCheckChar(candidate.slice(0, 17)) !== candidate[17]) return false;
  return HAS_LETTER.test(candidate) || MARKET_REGULATION.test(candidate);
}

// The commonest single-character surnames (over 85 % of the population) and the compound ones.
const SURNAMES = `王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤`;
const SURNAME = `(?:${[...COMPOUND_SURNAMES].join('|')}|[${SURNAMES}])`;
// A person's name needs context to tell it from words that start with a surname character:
// a role before it (客户, 借款人, 联系人…) or a form of address after it (先生, 女士).
const NAME_AFTER_ROLE = new RegExp(`(客户|借款人|联系人|担保人|共同借款人|配偶|本人|户主|姓名)([:：]?\\s?)(${SURNAME}[\\u4e00-\\u9fa5]{1,2})(?=来电|致电|称|表示|说|反映|确认|同意|签字|申请|办理|要求|还款|先生|女士|本人|[，。、；：,.;:\\s（(]|$)`, 'gu');
const ROLE_WORD = /客户|借款人|联系人|担保人|配偶|本人|户主|姓名/;
const FORM_OF_ADDRESS = /先生|女士|小姐|本人/;
const NAME_BEFORE_ADDRESS = new RegExp(`${SURNAME}[\\u4e00-\\u9fa5]{1,2}(?=先生|女士|小姐|本人)`, 'gu');

// Province, prefecture and county levels (as the address preset keeps them), then a road, street
// or village with a house number: a place name alone is not an address of a person.
const ADDRESS = /(?:[\u4e00-\u9fa5]{2,7}?(?:省|自治区))?(?:[\u4e00-\u9fa5]{1,8}?(?:市|自治州|地区|盟))(?:[\u4e00-\u9fa5]{1,8}?(?:区|县|市|旗))?[\u4e00-\u9fa5]{1,12}?(?:路|街|大街|大道|道|巷|弄|胡同|村|镇|乡)[0-9０-９]{1,5}(?:号|弄)(?:[0-9０-９]{1,4}(?:栋|幢|号楼|单元))*(?:[0-9０-９]{1,5}(?:室|号))?/gu;

// Cheap tests that decide whether a pattern runs at all. Module constants: a regular expression
// literal inside a function is a new object at every call.
const HAS_LETTER = /[A-Z]/;
const MARKET_REGULATION = /^9[123]/;
const USCC_SHAPE = /[0-9A-Z]{18}/;
const PASSPORT_SHAPE = /[EGDSP][A-Z0-9]?[0-9]{7}/;
const LANDLINE_SHAPE = /0\d{2,3}\D{0,2}[2-8]\d{6}/;
const ADDRESS_LEVEL = /[省市]/;
const HOUSE_NUMBER = /[0-9０-９](?:号|弄)/;

/** Every flag set: run every pattern (callers that have not scanned the text). */
const ALL_FEATURES = 0xff;

/**
 * USCCs, before the number detectors: most of a USCC is digits, and its first 17 could otherwise
 * be taken for a card. A valid resident ID is left for those detectors (and its own preset).
 */
export function maskUsccs(text: string, hits: TextIdentifierHits, features: number = ALL_FEATURES): string {
  // A run of 18 digits and capitals is what COULD_HOLD_USCC already says; test it only without one.
  if (features === ALL_FEATURES && (text.length < 18 || !USCC_SHAPE.test(text))) return text;
  return replaceCounted(text, USCC, usccMasked, hits, 'uscc');
}

/** The kinds of this module a route scans for (see DetectorSelection in detectors.ts). */
export type TextKinds = Readonly<Record<keyof TextIdentifierHits, boolean>>;


/** A USCC by its check character, unless it is a valid resident ID (left to that detector). */
const usccMasked = (m: RegExpExecArray) => (looksLikeUscc(m[0]) && !isValidResidentIdChecksum(m[0]) ? maskUscc(m[0]) : undefined);
const emailMasked = (m: RegExpExecArray) => maskEmail(m[0]);
const passportMasked = (m: RegExpExecArray) => keepEnds(m[0], 1, 2, '*');
/** The area code stays (it says only the city), the local number is masked but its last four. */
const landlineMasked = (m: RegExpExecArray) => {
  const [, p3, a3, l3, p4, a4, l4] = m;
  const area = p3 ?? a3 ?? p4 ?? a4 ?? '';
  const local = l3 ?? l4 ?? '';
  return `${p3 ?? p4 ? `(${area})` : area}-${'*'.repeat(local.length - 4)}${local.slice(-4)}`;
};
const addressMasked = (m: RegExpExecArray) => maskAddress(m[0]);
const nameAfterRoleMasked = (m: RegExpExecArray) => `${m[1]}${m[2]}${maskName(m[3] as string)}`;
const nameMasked = (m: RegExpExecArray) => maskName(m[0]);

/** Mask every e-mail, passport, landline, address and name in `text`; counts go into `hits`. */
export function maskTextIdentifiers(text: string, hits: TextIdentifierHits, kinds: TextKinds, features: number = ALL_FEATURES): string {
  let out = text;
  if (kinds.email && features & COULD_HOLD_EMAIL && out.includes('@')) out = replaceCounted(out, EMAIL, emailMasked, hits, 'email');
  if (kinds.passport && features & COULD_HOLD_PASSPORT && PASSPORT_SHAPE.test(out)) out = replaceCounted(out, PASSPORT, passportMasked, hits, 'passport');
  if (kinds.landline && features & COULD_HOLD_LANDLINE && LANDLINE_SHAPE.test(out)) out = replaceCounted(out, LANDLINE, landlineMasked, hits, 'landline');
  if (kinds.address && features & COULD_HOLD_ADDRESS && (features !== ALL_FEATURES || ADDRESS_LEVEL.test(out)) && HOUSE_NUMBER.test(out)) out = replaceCounted(out, ADDRESS, addressMasked, hits, 'address');
  // Anchored on the role word (a literal the engine finds fast), not a look-behind at every character.
  if (kinds.name && features & COULD_HOLD_NAME_AFTER_ROLE && ROLE_WORD.test(out)) out = replaceCounted(out, NAME_AFTER_ROLE, nameAfterRoleMasked, hits, 'name');
  if (kinds.name && features & COULD_HOLD_NAME_BEFORE_FORM && FORM_OF_ADDRESS.test(out)) out = replaceCounted(out, NAME_BEFORE_ADDRESS, nameMasked, hits, 'name');
  return out;
}
