import t from 'tap';
import { compileOperator, DROP, type OperatorSpec } from '../../src/mask/operators.js';

const keys = { active: 'p1', secrets: new Map([['p1', 'k'.repeat(32)], ['p2', 'z'.repeat(32)]]) };
const op = (spec: OperatorSpec) => compileOperator(spec, keys);

t.test('golden output per operator', async (t) => {
  const cases: [OperatorSpec, string | number | boolean, unknown][] = [
    ['keep', '13812345678', '13812345678'],
    ['null', '13812345678', null],
    [{ mask: { keepFirst: 3, keepLast: 2 } }, 'ABCDEFGHIJ', 'ABC*****IJ'],
    [{ mask: { keepFirst: 0, keepLast: 4, fill: '#' } }, '6222021234567890123', '###############0123'],
    [{ mask: { keepFirst: 3, keepLast: 3 } }, 'ABCDE', '*****'],
    [{ mask: 'mobile' }, 13812345678, '138****5678'],
    [{ generalize: 'year' }, '1987-10-08', '1987'],
    [{ generalize: 'year_month' }, '1987-10-08', '1987-10'],
    [{ generalize: 'year' }, '2023-12-27T09:30:00Z', '2023'],
    [{ generalize: 'year' }, 'yesterday', null],
    [{ generalize: { buckets: [5000, 10000, 20000] } }, 3000, '<5000'],
    [{ generalize: { buckets: [5000, 10000, 20000] } }, 8000, '5000-9999'],
    [{ generalize: { buckets: [20000, 5000, 10000] } }, 10000, '10000-19999'],
    [{ generalize: { buckets: [5000, 10000, 20000] } }, 99999, '≥20000'],
    [{ generalize: { buckets: [5000] } }, '8000', '≥5000'],
    [{ generalize: { buckets: [5000] } }, 'lots', null],
    [{ generalize: { range: 10 } }, 37, '30-39'],
    [{ generalize: { range: 5 } }, 40, '40-44'],
  ];
  for (const [spec, input, expected] of cases) t.same(op(spec).apply(input), expected, `${JSON.stringify(spec)}(${input})`);
  t.equal(op('drop').apply('x'), DROP);
});

t.test('pseudonyms are stable, keyed, and rotate by key id', async (t) => {
  const p1 = op('pseudonym');
  const a = p1.apply('110101199003071234') as string;
  t.match(a, /^p1_[A-Za-z0-9_-]{22}$/);
  t.equal(p1.apply('110101199003071234'), a, 'same value, same token (joins work)');
  t.not(p1.apply('110101199003071235'), a);
  const p2 = op({ pseudonym: { key: 'p2' } }).apply('110101199003071234') as string;
  t.match(p2, /^p2_/);
  t.not(p2.slice(3), a.slice(3), 'another key gives another token');
  t.throws(() => op({ pseudonym: { key: 'nope' } }), /without a configured key/);
});
