import t from 'tap';
import { parseRequestTarget } from '../../src/policy/request-target.js';

t.test('well-formed targets pass with decoded segments and the raw path kept', async (t) => {
  const cases: [string, string[], string][] = [
    ['/', [], ''],
    ['/api/customers/42', ['api', 'customers', '42'], ''],
    ['/api/customers/42/', ['api', 'customers', '42'], ''],
    ['/api/customers/%E5%BC%A0%E4%B8%89?x=1&y=%2F', ['api', 'customers', '张三'], 'x=1&y=%2F'],
    ['/api/files/a.b-c_d~e', ['api', 'files', 'a.b-c_d~e'], ''],
  ];
  for (const [raw, segments, query] of cases) {
    const result = parseRequestTarget(raw, 2048);
    t.ok(result.ok, raw);
    if (result.ok) {
      t.same(result.target.segments, segments, raw);
      t.equal(result.target.rawQuery, query);
      t.equal(result.target.rawPath + (query ? `?${query}` : ''), raw, 'nothing rewritten');
    }
  }
});

t.test('each kind of ambiguity has its reason', async (t) => {
  const cases: [string, string][] = [
    ['/a/%2F', 'encoded_separator'],
    ['/a/%5c', 'encoded_separator'],
    ['/a/%2e%2e', 'dot_segment'],
    ['/a/..', 'dot_segment'],
    ['/a/%252e', 'double_encoding'],
    ['/a//b', 'empty_segment'],
    ['/a\\b', 'backslash'],
    ['/a;b', 'parameter_segment'],
    ['/a/%0a', 'control_byte'],
    ['/a/%GG', 'bad_percent_encoding'],
    ['/a/%ff', 'bad_percent_encoding'],
    ['/a b', 'forbidden_character'],
    ['a/b', 'not_origin_form'],
    [`/${'x'.repeat(100)}`, 'too_long'],
  ];
  for (const [raw, reason] of cases) {
    const result = parseRequestTarget(raw, 64);
    t.same(result, { ok: false, reason }, raw);
  }
});
