import t from 'tap';
import { customer, loansOf, repaymentsOf } from '../../src/demo/dataset.js';
import { buildLoanApi } from '../../src/demo/loan-api.js';
import { isValidLuhn, isValidResidentIdChecksum } from '../../src/mask/cn-checksums.js';

t.test('1,000 deterministic customers with valid identifiers', async (t) => {
  let remarksWithId = 0;
  let remarksWithMobile = 0;
  const compound = new Set<string>();
  for (let id = 1; id <= 1000; id++) {
    const c = customer(id);
    if (!isValidResidentIdChecksum(c.idNumber)) t.fail(`customer ${id}: bad MOD 11-2 check character`);
    if (!isValidLuhn(c.bankCard)) t.fail(`customer ${id}: bad Luhn digit`);
    if (!/^1[3-9]\d{9}$/.test(c.mobile)) t.fail(`customer ${id}: bad mobile`);
    if (c.remarks.includes(c.idNumber)) remarksWithId++;
    if (/1[3-9]\d{9}/.test(c.remarks)) remarksWithMobile++;
    if (/^(欧阳|司马|诸葛|上官)/.test(c.name)) compound.add(c.name);
    // The ID number encodes the birth date and gender (odd 17th digit = male).
    if (c.idNumber.slice(6, 14) !== c.birthDate.replaceAll('-', '')) t.fail(`customer ${id}: birth date`);
    if (Number(c.idNumber[16]) % 2 !== (c.gender === 'M' ? 1 : 0)) t.fail(`customer ${id}: gender digit`);
  }
  t.same(customer(42), customer(42), 'deterministic');
  t.not(customer(42).idNumber, customer(43).idNumber);
  t.ok(remarksWithId > 100, `remarks sometimes carry an ID number (${remarksWithId})`);
  t.ok(remarksWithMobile > 100, `remarks sometimes carry a mobile number (${remarksWithMobile})`);
  t.ok(compound.size > 10, 'compound surnames occur');
  const loans = loansOf(7);
  t.ok(loans.length >= 1 && loans.every((l) => l.customerId === 7));
  t.equal(repaymentsOf(loans[0]!).length, loans[0]!.termMonths);
});

t.test('the demo loan API serves every endpoint', async (t) => {
  const api = buildLoanApi({ customers: 1000 });
  t.teardown(() => api.close());
  const detail = await api.inject('/api/customers/42');
  t.equal(detail.json().idNumber, customer(42).idNumber);
  t.equal((await api.inject('/api/customers/1001')).statusCode, 404);
  const list = await api.inject('/api/customers?page=2&pageSize=5');
  t.same(list.json().items.map((c: { id: number }) => c.id), [6, 7, 8, 9, 10]);
  const loans = await api.inject('/api/customers/42/loans');
  t.equal(loans.json().customerId, 42);
  const loanId = loans.json().items[0].id;
  const repayments = await api.inject(`/api/loans/${loanId}/repayments`);
  t.equal(repayments.json().customerId, 42);
  const del = await api.inject({ method: 'DELETE', url: '/api/customers/42/documents/d-1' });
  t.equal(del.json().deleted, true);
  t.equal((await api.inject({ method: 'DELETE', url: '/api/customers/42/documents/d-1' })).statusCode, 404, 'deleted once');
  const exported = await api.inject('/api/exports/customers?count=1500');
  const rows = exported.json();
  t.equal(rows.length, 1500, 'export streams N records');
  t.equal(rows[1499].id, 1500);
  t.same((await api.inject('/api/exports/customers?count=0')).json(), []);
});
