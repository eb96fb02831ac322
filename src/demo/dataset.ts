import { luhnCheckDigit, residentIdCheckChar } from '../mask/cn-checksums.js';

/**
 * Deterministic synthetic customers for the demo loan API. Customer `n` is always the same
 * person, so curl examples and tests can name ids. Every identifier is well-formed (valid
 * MOD 11-2 and Luhn check digits) so the masking presets and detectors see realistic data.
 * All of it is invented.
 */

export interface Customer {
  id: number;
  name: string;
  gender: 'F' | 'M';
  birthDate: string;
  idNumber: string;
  mobile: string;
  email: string;
  address: string;
  employer: string;
  monthlyIncome: number;
  bankCard: string;
  bankName: string;
  creditScore: number;
  riskLevel: 'low' | 'medium' | 'high';
  createdAt: string;
  remarks: string;
}

export interface Loan {
  id: number;
  customerId: number;
  product: string;
  principal: number;
  annualRate: number;
  termMonths: number;
  status: 'active' | 'closed' | 'overdue';
  disbursedAt: string;
}

export interface Repayment {
  id: number;
  loanId: number;
  installment: number;
  dueDate: string;
  amount: number;
  paidAt: string | null;
  status: 'paid' | 'due' | 'overdue';
}

/** mulberry32: a tiny seeded PRNG; one stream per customer keeps records independent. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}

function digits(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 10);
  return s;
}

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭', '何', '林', '欧阳', '司马', '诸葛', '上官'];
const GIVEN = ['伟', '芳', '娜', '秀英', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟', '涛', '明', '超', '秀兰', '霞', '平', '刚', '桂英', '建华', '子涵', '浩然'];
const AREAS = [
  { code: '110101', address: '北京市东城区', streets: ['东直门南大街', '王府井大街', '安定门外大街'] },
  { code: '310104', address: '上海市徐汇区', streets: ['漕溪北路', '天钥桥路', '肇嘉浜路'] },
  { code: '440305', address: '广东省深圳市南山区', streets: ['科技园路', '深南大道', '南海大道'] },
  { code: '330106', address: '浙江省杭州市西湖区', streets: ['文三路', '天目山路', '曙光路'] },
  { code: '510107', address: '四川省成都市武侯区', streets: ['人民南路', '科华北路', '武侯祠大街'] },
  { code: '420106', address: '湖北省武汉市武昌区', streets: ['中南路', '武珞路', '友谊大道'] },
] as const;
const MOBILE_PREFIXES = ['138', '139', '135', '136', '150', '151', '186', '187', '177', '199'];
const BANKS = [
  { bin: '622202', name: '中国工商银行', length: 19 },
  { bin: '621700', name: '中国建设银行', length: 19 },
  { bin: '622848', name: '中国农业银行', length: 19 },
  { bin: '621483', name: '招商银行', length: 16 },
] as const;
const EMPLOYERS = ['华信科技有限公司', '东方建设集团', '个体经营', '市第一人民医院', '新远物流有限公司', '明德中学'];
const PRODUCTS = ['消费贷', '经营贷', '车主贷', '工薪贷'];

function isoDate(year: number, month: number, day: number): string {
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

export function residentId(rand: () => number, areaCode: string, birth: string, gender: 'F' | 'M'): string {
  // The 17th digit is odd for men and even for women (GB 11643).
  const seq2 = digits(rand, 2);
  const genderDigit = String(Math.floor(rand() * 5) * 2 + (gender === 'M' ? 1 : 0));
  const first17 = `${areaCode}${birth.replaceAll('-', '')}${seq2}${genderDigit}`;
  return first17 + residentIdCheckChar(first17);
}

export function bankCardNumber(rand: () => number, bin: string, length: number): string {
  const payload = bin + digits(rand, length - bin.length - 1);
  return payload + luhnCheckDigit(payload);
}

export function customer(id: number): Customer {
  const rand = prng(id * 2654435761);
  const gender = rand() < 0.5 ? 'F' : 'M';
  const surname = pick(rand, SURNAMES);
  const name = surname + pick(rand, GIVEN);
  const area = pick(rand, AREAS);
  const birthDate = isoDate(1960 + Math.floor(rand() * 40), 1 + Math.floor(rand() * 12), 1 + Math.floor(rand() * 28));
  const idNumber = residentId(rand, area.code, birthDate, gender);
  const mobile = pick(rand, MOBILE_PREFIXES) + digits(rand, 8);
  const bank = pick(rand, BANKS);
  const bankCard = bankCardNumber(rand, bank.bin, bank.length);
  const creditScore = 450 + Math.floor(rand() * 400);
  const riskLevel = creditScore > 700 ? 'low' : creditScore > 580 ? 'medium' : 'high';
  const remarkKind = Math.floor(rand() * 4);
  const remarks =
    remarkKind === 0
      ? `客户来电确认还款计划，备用联系电话${pick(rand, MOBILE_PREFIXES)}${digits(rand, 8)}。`
      : remarkKind === 1
        ? `核实身份时客户报身份证号${idNumber}，与档案一致。`
        : remarkKind === 2
          ? '按时还款，无异常。'
          : `工单 ${1_700_000_000_000 + id} 已处理，订单号 ${digits(rand, 12)}。`;
  return {
    id,
    name,
    gender,
    birthDate,
    idNumber,
    mobile,
    email: `user${id}@example.com`,
    address: `${area.address}${pick(rand, area.streets)}${1 + Math.floor(rand() * 300)}号${1 + Math.floor(rand() * 20)}栋${101 + Math.floor(rand() * 1500)}室`,
    employer: pick(rand, EMPLOYERS),
    monthlyIncome: 3000 + Math.floor(rand() * 47) * 1000,
    bankCard,
    bankName: bank.name,
    creditScore,
    riskLevel,
    createdAt: `${isoDate(2018 + Math.floor(rand() * 7), 1 + Math.floor(rand() * 12), 1 + Math.floor(rand() * 28))}T09:30:00Z`,
    remarks,
  };
}

/** Loan ids are customerId * 10 + k, so a loan id says whose it is. */
export function loansOf(customerId: number): Loan[] {
  const rand = prng(customerId * 40503 + 7);
  const count = 1 + Math.floor(rand() * 3);
  return Array.from({ length: count }, (_, k) => {
    const termMonths = pick(rand, [6, 12, 24, 36]);
    const statusRoll = rand();
    return {
      id: customerId * 10 + k + 1,
      customerId,
      product: pick(rand, PRODUCTS),
      principal: (5 + Math.floor(rand() * 95)) * 1000,
      annualRate: Math.round((0.06 + rand() * 0.18) * 10000) / 10000,
      termMonths,
      status: statusRoll < 0.5 ? 'active' : statusRoll < 0.85 ? 'closed' : 'overdue',
      disbursedAt: isoDate(2023 + Math.floor(rand() * 2), 1 + Math.floor(rand() * 12), 1 + Math.floor(rand() * 28)),
    };
  });
}

export function loan(loanId: number): Loan | undefined {
  const customerId = Math.floor(loanId / 10);
  return loansOf(customerId).find((l) => l.id === loanId);
}

export function repaymentsOf(l: Loan): Repayment[] {
  const [y, m, d] = l.disbursedAt.split('-').map(Number) as [number, number, number];
  const amount = Math.round(((l.principal * (1 + l.annualRate * (l.termMonths / 12))) / l.termMonths) * 100) / 100;
  return Array.from({ length: l.termMonths }, (_, i) => {
    const month0 = m - 1 + i + 1;
    const dueDate = isoDate(y + Math.floor(month0 / 12), (month0 % 12) + 1, d);
    const paid = l.status === 'closed' || (l.status === 'active' && i < l.termMonths / 2) || (l.status === 'overdue' && i < 2);
    const status = paid ? 'paid' : l.status === 'overdue' && i < 4 ? 'overdue' : 'due';
    return { id: l.id * 100 + i + 1, loanId: l.id, installment: i + 1, dueDate, amount, paidAt: paid ? dueDate : null, status };
  });
}
