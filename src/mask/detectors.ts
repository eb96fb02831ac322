import { isValidLuhn, residentIdCheckChar } from './cn-checksums.js';
import { maskBankCard, maskMobile, maskResidentId } from './presets.js';

/**
 * Defence in depth for free text (remarks, call notes, unknown fields a route keeps): find
 * resident ID numbers, mobile numbers and bank card numbers and mask them in place. Every
 * candidate is validated — check digit, date, allocated prefix, Luhn and issuer prefix — so
 * timestamps, order numbers and amounts are left alone.
 */

export interface DetectorHits {
  residentId: number;
  mobile: number;
  bankCard: number;
}

export function emptyHits(): DetectorHits {
  return { residentId: 0, mobile: 0, bankCard: 0 };
}

// Digit boundaries: a match must not be glued to more digits or ASCII letters on either side.
const ID_CANDIDATE = /(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])/g;
const CARD_CANDIDATE = /(?<![0-9A-Za-z])(\d{4}(?:[ -]?\d){9,15})(?![0-9A-Za-z])/g;
const MOBILE_CANDIDATE = /(?<![0-9A-Za-z+])((?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d){8})(?![0-9A-Za-z])/g;
/** At least 11 digits in the text: the fewest any of the three identifiers has. */
function worthScanning(text: string): boolean {
  if (text.length < 11) return false;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57 && ++digits >= 11) return true;
  }
  return false;
}

// Mobile number segments allocated by MIIT (voice), by the first three digits.
const MOBILE_PREFIX = /^1(?:3\d|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8\d|9[0-35-9])/;
// Card issuer prefixes (IIN) with the lengths they issue: UnionPay, Visa, Mastercard, Amex, JCB.
const CARD_IIN = /^(?:62\d{14,17}|4\d{12}(?:\d{3}){0,2}|5[1-5]\d{14}|2[2-7]\d{14}|3[47]\d{13}|35\d{14})$/;

// Birth years accepted in an ID number: 1900 to this year (read once; a long-running process
// is at most a year behind, which only matters for newborns, who do not take loans).
const LATEST_BIRTH_YEAR = new Date().getUTCFullYear();

function isRealDate(yyyymmdd: string): boolean {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  if (y < 1900 || y > LATEST_BIRTH_YEAR || m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

export function looksLikeResidentId(candidate: string): boolean {
  return (
    /^[1-8]\d{16}[\dXx]$/.test(candidate) &&
    isRealDate(candidate.slice(6, 14)) &&
    residentIdCheckChar(candidate.slice(0, 17)) === (candidate[17] as string).toUpperCase()
  );
}

export function looksLikeBankCard(candidate: string): boolean {
  const digits = candidate.replace(/[ -]/g, '');
  return CARD_IIN.test(digits) && isValidLuhn(digits);
}

export function looksLikeMobile(candidate: string): boolean {
  const digits = candidate.replace(/[ -]/g, '').replace(/^\+?86(?=1\d{10}$)/, '');
  return /^1\d{10}$/.test(digits) && MOBILE_PREFIX.test(digits);
}

/** Mask every validated identifier in `text`; counts go into `hits`. */
export function maskDetected(text: string, hits: DetectorHits): string {
  if (!worthScanning(text)) return text;
  let out = text.replace(ID_CANDIDATE, (m) => {
    if (!looksLikeResidentId(m)) return m;
    hits.residentId++;
    return maskResidentId(m);
  });
  out = out.replace(CARD_CANDIDATE, (m) => {
    if (!looksLikeBankCard(m)) return m;
    hits.bankCard++;
    return maskBankCard(m);
  });
  out = out.replace(MOBILE_CANDIDATE, (m) => {
    if (!looksLikeMobile(m)) return m;
    hits.mobile++;
    return maskMobile(m);
  });
  return out;
}
