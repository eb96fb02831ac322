import { isValidLuhn, residentIdCheckChar } from './cn-checksums.js';
import { maskBankCard, maskMobile, maskResidentId } from './presets.js';
import { replaceCounted } from './replace-counted.js';
import { COULD_HOLD_NUMBER, COULD_HOLD_TEXT_IDENTIFIER, COULD_HOLD_USCC, isNumberRunChar, textFeatures } from './text-features.js';
import { maskTextIdentifiers, maskUsccs, type TextIdentifierHits } from './text-identifiers.js';

/**
 * Defence in depth for free text (remarks, call notes, unknown fields a route keeps): find
 * resident ID numbers, mobile numbers and bank card numbers — and e-mails, landlines, passports
 * and USCCs (text-identifiers.ts) — and mask them in place. Every
 * candidate is validated — check digit, date, allocated prefix, Luhn and issuer prefix — so
 * timestamps, order numbers and amounts are left alone.
 */

export interface DetectorHits extends TextIdentifierHits {
  residentId: number;
  mobile: number;
  bankCard: number;
}

/** One kind of identifier the detectors find. */
export type DetectorKind = keyof DetectorHits;

export const DETECTOR_KINDS: readonly DetectorKind[] = Object.freeze(['residentId', 'mobile', 'bankCard', 'uscc', 'email', 'landline', 'passport', 'name', 'address']);

/** Which kinds a route scans its free text for (all, unless the route lists some). */
export type DetectorSelection = Readonly<Record<DetectorKind, boolean>>;

export const ALL_DETECTORS: DetectorSelection = Object.freeze(Object.fromEntries(DETECTOR_KINDS.map((k) => [k, true])) as Record<DetectorKind, boolean>);

export function detectorSelection(kinds: readonly DetectorKind[] | undefined): DetectorSelection {
  if (kinds === undefined) return ALL_DETECTORS;
  return Object.freeze(Object.fromEntries(DETECTOR_KINDS.map((k) => [k, kinds.includes(k)])) as Record<DetectorKind, boolean>);
}

export function emptyHits(): DetectorHits {
  // Spelled out rather than spread from emptyTextHits(): made for every request and every text.
  return { residentId: 0, mobile: 0, bankCard: 0, email: 0, landline: 0, passport: 0, uscc: 0, name: 0, address: 0 };
}

/** Add one request's hits into another's (headers into the body's report). */
export function addHits(into: DetectorHits, from: DetectorHits): void {
  for (const key of Object.keys(into) as (keyof DetectorHits)[]) into[key] += from[key];
}

// Digit boundaries: a match must not be glued to more digits. Letters are no boundary: staff
// write `mobile13812345678`, `ID11010519491231002X`, `13812345678ext`, and a gateway that masks
// errs towards masking.
const ID_CANDIDATE = /(?<![0-9])(\d{17}[\dXx])(?![0-9])/g;
const CARD_CANDIDATE = /(?<![0-9])(\d{4}(?:[ -]?\d){9,15})(?![0-9])/g;
const MOBILE_CANDIDATE = /(?<![0-9+])((?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d){8})(?![0-9])/g;

/** Full-width digits (０–９) and check letters (Ｘ ｘ), as typed with a Chinese input method. */
function isWide(c: number): boolean {
  return (c >= 0xff10 && c <= 0xff19) || c === 0xff38 || c === 0xff58;
}

function isDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 0xff10 && c <= 0xff19);
}

/** The ASCII form of full-width digits and check letters; one UTF-16 unit each, so offsets hold. */
function narrowed(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out += isWide(c) ? String.fromCharCode(c - 0xfee0) : (text[i] as string);
  }
  return out;
}

/** The fewest digits any of the three identifiers has (a mobile number). */
const MIN_DIGITS = 11;

const RESIDENT_ID_SHAPE = /^[1-9]\d{16}[\dXx]$/;
const MOBILE_SHAPE = /^1\d{10}$/;
const SEPARATORS = /[ -]/g;
const HAS_SEPARATOR = /[ -]/;

/** The candidate's digits run together; most candidates have no separator, and are returned as they are. */
function withoutSeparators(candidate: string): string {
  return HAS_SEPARATOR.test(candidate) ? candidate.replace(SEPARATORS, '') : candidate;
}
const COUNTRY_CODE = /^\+?86(?=1\d{10}$)/;

// Mobile number segments allocated by MIIT (voice), by the first three digits.
const MOBILE_PREFIX = /^1(?:3\d|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8\d|9[0-35-9])/;
// Card issuer prefixes (IIN) with the lengths they issue: UnionPay, Visa, Mastercard, Amex, JCB.
// Needed only below 16 digits: a Luhn-valid number of 16–19 digits is masked whatever its
// prefix (erring towards masking; issuers come and go), while 13–15 digits would catch every
// tenth millisecond timestamp without the prefix check.
const CARD_IIN = /^(?:62\d{14,17}|4\d{12}(?:\d{3}){0,2}|5[1-5]\d{14}|2[2-7]\d{14}|3[47]\d{13}|35\d{14})$/;

/**
 * An 18-character resident ID by its GB 11643 MOD 11-2 check character. The birth date is not
 * required to be real: a checksum-valid number with an impossible date is a typo'd or forged ID
 * number still worth masking, and a gateway that masks errs towards masking (1 in 11 random
 * 18-digit numbers pass the check; order numbers that long are rare in customer records).
 */
export function looksLikeResidentId(candidate: string): boolean {
  return RESIDENT_ID_SHAPE.test(candidate) && residentIdCheckChar(candidate.slice(0, 17)) === (candidate[17] as string).toUpperCase();
}

/** A bank card: Luhn-valid, and of a known issuer below 16 digits (see CARD_IIN). */
export function looksLikeBankCard(candidate: string): boolean {
  const digits = withoutSeparators(candidate);
  if (digits.length < 13 || digits.length > 19) return false;
  return (digits.length >= 16 || CARD_IIN.test(digits)) && isValidLuhn(digits);
}

export function looksLikeMobile(candidate: string): boolean {
  const digits = withoutSeparators(candidate).replace(COUNTRY_CODE, '');
  return MOBILE_SHAPE.test(digits) && MOBILE_PREFIX.test(digits);
}

/**
 * Mask every validated identifier in `text` — the numbers here, then e-mails, landlines,
 * passports and USCCs (text-identifiers.ts); counts go into `hits`. The text is cut into runs of
 * identifier characters and only runs with enough digits are searched, each with one character of
 * context either side (what the patterns' look-behind and look-ahead examine): the same matches
 * as searching the whole text, without running three patterns over every timestamp and sentence.
 */
export function maskDetected(text: string, hits: DetectorHits, kinds: DetectorSelection = ALL_DETECTORS): string {
  const features = textFeatures(text);
  if (features === 0) return text;
  const numbers = (kinds.residentId || kinds.mobile || kinds.bankCard) && features & COULD_HOLD_NUMBER;
  const afterUscc = kinds.uscc && features & COULD_HOLD_USCC ? maskUsccs(text, hits, features) : text;
  const afterNumbers = numbers ? maskNumbers(afterUscc, hits, kinds) : afterUscc;
  return features & COULD_HOLD_TEXT_IDENTIFIER ? maskTextIdentifiers(afterNumbers, hits, kinds, features) : afterNumbers;
}

/** Resident IDs, bank cards and mobiles (see maskDetected). */
function maskNumbers(text: string, hits: DetectorHits, kinds: DetectorSelection): string {
  const n = text.length;
  if (n < MIN_DIGITS) return text;
  let out: string | undefined;
  let copied = 0;
  let i = 0;
  while (i < n) {
    if (!isNumberRunChar(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const start = i;
    let digits = 0;
    let wide = false;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (!isNumberRunChar(c)) break;
      if (isDigit(c)) digits++;
      if (c >= 0xff10) wide = true;
    }
    if (digits < MIN_DIGITS) continue;
    const plain = wide ? undefined : maskPlainNumber(text, start, i, hits, kinds);
    if (plain !== undefined) {
      if (plain === null) continue;
      out = (out ?? '') + text.slice(copied, start) + plain;
      copied = i;
      continue;
    }
    const before = start > 0 ? 1 : 0;
    const after = i < n ? 1 : 0;
    const original = text.slice(start - before, i + after);
    const window = wide ? narrowed(original) : original;
    const masked = maskWindow(window, hits, kinds);
    if (masked === window) continue;
    // (A full-width run that held an identifier comes out in ASCII, masked; others stay as typed.)
    // The context characters are not run characters, so no match touched them: strip them back off.
    out = (out ?? '') + text.slice(copied, start) + masked.slice(before, masked.length - after);
    copied = i;
  }
  return out === undefined ? text : out + text.slice(copied);
}

/**
 * The common case, decided without the patterns: a run that is one bare number (digits only, or
 * 17 digits and a check letter). Look-behind and look-ahead forbid a match glued to a digit (the
 * characters around a run are never digits), so
 * any match is the whole run, and the patterns reduce to its length and first digits; the order
 * (resident ID, then card, then mobile) is the patterns' order. Returns the masked run, null when
 * it stays as it is, or undefined when the run is not a bare number (the patterns decide).
 */
function maskPlainNumber(text: string, start: number, end: number, hits: DetectorHits, kinds: DetectorSelection): string | null | undefined {
  const length = end - start;
  for (let i = start; i < end - 1; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  const last = text.charCodeAt(end - 1);
  const checkLetter = last === 88 || last === 120;
  if (!checkLetter && (last < 48 || last > 57)) return undefined;
  if (checkLetter && length !== 18) return undefined;
  const run = text.slice(start, end);
  if (length === 18) {
    if (kinds.residentId && looksLikeResidentId(run)) {
      hits.residentId++;
      return maskResidentId(run);
    }
    if (checkLetter) {
      // Not an ID number: the 17 digits before the letter may still be a card (a letter is no
      // boundary), and nothing else fits between a non-digit and the letter.
      const digits = run.slice(0, 17);
      if (!kinds.bankCard || !looksLikeBankCard(digits)) return null;
      hits.bankCard++;
      return maskBankCard(digits) + run.slice(17);
    }
  }
  if (kinds.bankCard && length >= 13 && length <= 19 && looksLikeBankCard(run)) {
    hits.bankCard++;
    return maskBankCard(run);
  }
  const mobileShape = (length === 11 && run.charCodeAt(0) === 49) || (length === 13 && run.startsWith('861'));
  const third = run.charCodeAt(length - 10); // the digit after the leading 1
  if (kinds.mobile && mobileShape && third >= 51 && third <= 57 && looksLikeMobile(run)) {
    hits.mobile++;
    return maskMobile(run);
  }
  return null;
}

/** Digits in `text`, and the longest stretch of consecutive digits. */
function digitCounts(text: string): { digits: number; longest: number } {
  let digits = 0;
  let longest = 0;
  let stretch = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits++;
      if (++stretch > longest) longest = stretch;
    } else stretch = 0;
  }
  return { digits, longest };
}

// A candidate that fails its check is left as it is (undefined).
const residentIdMasked = (m: RegExpExecArray) => (looksLikeResidentId(m[0]) ? maskResidentId(m[0]) : undefined);
const bankCardMasked = (m: RegExpExecArray) => (looksLikeBankCard(m[0]) ? maskBankCard(m[0]) : undefined);
const mobileMasked = (m: RegExpExecArray) => (looksLikeMobile(m[0]) ? maskMobile(m[0]) : undefined);

/** One run (with its context characters): each pattern is tried only if the run could hold it. */
function maskWindow(window: string, hits: DetectorHits, kinds: DetectorSelection): string {
  let out = window;
  let counts = digitCounts(out);
  if (kinds.residentId && counts.longest >= 17) {
    out = replaceCounted(out, ID_CANDIDATE, residentIdMasked, hits, 'residentId');
    if (out !== window) counts = digitCounts(out);
  }
  if (kinds.bankCard && counts.digits >= 13) {
    const before = out;
    out = replaceCounted(out, CARD_CANDIDATE, bankCardMasked, hits, 'bankCard');
    if (out !== before) counts = digitCounts(out);
  }
  if (kinds.mobile && counts.digits >= MIN_DIGITS) out = replaceCounted(out, MOBILE_CANDIDATE, mobileMasked, hits, 'mobile');
  return out;
}
