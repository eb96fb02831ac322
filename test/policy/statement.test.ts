import t from 'tap';
import { analyzeStatement, DEFAULT_FUNCTIONS, loadStatementParser, type StatementCatalogue } from '../../src/policy/statement.js';

await loadStatementParser();

/** Customer service's view of the loan database: identity masked, loan facts clear. */
const catalogue: StatementCatalogue = {
  tables: new Map([
    [
      'customers',
      {
        columns: new Map([
          ['id', { clear: true }],
          ['name', { clear: false }],
          ['id_number', { clear: false }],
          ['mobile', { clear: false }],
          ['city', { clear: true }],
        ]),
      },
    ],
    ['loans', { columns: new Map([['id', { clear: true }], ['customer_id', { clear: true }], ['amount', { clear: true }], ['status', { clear: true }]]) }],
  ]),
  functions: new Set(DEFAULT_FUNCTIONS),
};

t.test('reads the purpose may make are allowed, with what they read and a literal-free form', async (t) => {
  const allowed: [string, string[]][] = [
    ['SELECT * FROM customers', ['customers']],
    ['SELECT id, name, id_number, mobile FROM customers WHERE id = 42', ['customers']],
    ["SELECT c.id, c.mobile, l.amount FROM customers c JOIN loans l ON l.customer_id = c.id WHERE l.status = 'overdue' ORDER BY l.amount DESC LIMIT 10", ['customers', 'loans']],
    ['SELECT status, count(*), sum(amount) FROM loans GROUP BY status HAVING count(*) > 1', ['loans']],
    ['WITH big AS (SELECT customer_id, amount FROM loans WHERE amount > 10000) SELECT c.name, b.amount FROM big b JOIN customers c ON c.id = b.customer_id', ['customers', 'loans']],
    ['SELECT name FROM customers WHERE id IN (SELECT customer_id FROM loans WHERE status = $1)', ['customers', 'loans']],
    ['SELECT x.name FROM (SELECT id, name FROM customers) x WHERE x.id > 10', ['customers']],
    ['SELECT city, count(*) FROM customers GROUP BY city ORDER BY 2 DESC', ['customers']],
  ];
  for (const [sql, tables] of allowed) {
    const r = analyzeStatement(sql, catalogue);
    t.match(r, { ok: true, kind: 'select', tables }, sql);
  }
  const r = analyzeStatement("SELECT name FROM customers WHERE id = 42 AND city = 'Beijing'", catalogue);
  t.ok(r.ok && !r.normalized.includes('42') && !r.normalized.includes('Beijing'), 'the recorded form has no literals');
  t.match(analyzeStatement('BEGIN', catalogue), { ok: true, kind: 'transaction' });
  t.match(analyzeStatement('SHOW server_version', catalogue), { ok: true, kind: 'show' });
  t.match(analyzeStatement("SET application_name = 'bi'", catalogue), { ok: true, kind: 'set' });
  t.match(analyzeStatement('', catalogue), { ok: true, kind: 'empty' });
});

t.test('hostile statements are refused, each for its reason', async (t) => {
  const refused: [string, string][] = [
    // Inference through predicates on columns this purpose sees masked.
    ["SELECT id FROM customers WHERE id_number LIKE '1101%'", 'masked_column_in_expression'],
    ['SELECT id FROM customers ORDER BY mobile', 'masked_column_in_expression'],
    ['SELECT name, count(*) FROM customers GROUP BY name', 'masked_column_in_expression'],
    ["SELECT c.id FROM customers c JOIN customers d ON substring(c.id_number, 1, 6) = substring(d.id_number, 1, 6)", 'function_not_allowed'],
    ['SELECT l.id FROM loans l JOIN customers c ON c.mobile = l.status', 'masked_column_in_expression'],
    ["SELECT id FROM customers c WHERE EXISTS (SELECT 1 FROM customers d WHERE d.id = c.id AND d.id_number LIKE '11%')", 'masked_column_in_expression'],
    ["SELECT id FROM loans WHERE customer_id IN (SELECT id FROM customers WHERE mobile LIKE '138%')", 'masked_column_in_expression'],
    ['SELECT id FROM loans WHERE status IN (SELECT id_number FROM customers)', 'masked_column_in_expression'],
    ["WITH t AS (SELECT id, id_number FROM customers) SELECT id FROM t WHERE id_number LIKE '1101%'", 'masked_column_in_expression'],
    ["SELECT x.id FROM (SELECT id, mobile FROM customers) x WHERE x.mobile LIKE '138%'", 'masked_column_in_expression'],
    ["WITH t AS (SELECT * FROM customers) SELECT id FROM t WHERE city = 'x'", 'masked_column_in_expression'],
    ['SELECT id_number AS x FROM customers ORDER BY x', 'masked_column_in_expression'],
    ['SELECT max(id_number) FROM customers', 'masked_column_in_expression'],
    ['SELECT id, count(*) OVER (ORDER BY mobile) FROM customers', 'masked_column_in_expression'],
    ['SELECT id, row_number() OVER () FROM customers', 'function_not_allowed'],
    ['SELECT upper(name) FROM customers', 'masked_column_in_expression'],
    ['SELECT id_number::text FROM customers', 'masked_column_in_expression'],
    ["SELECT CASE WHEN mobile LIKE '138%' THEN 1 END FROM customers", 'masked_column_in_expression'],
    ['SELECT DISTINCT ON (id_number) id FROM customers', 'masked_column_in_expression'],
    ['SELECT id_number FROM customers UNION SELECT status FROM loans', 'masked_column_in_expression'],
    ['SELECT id FROM customers WHERE secret_column = 1', 'masked_column_in_expression'],
    // Not a read of the purpose's tables.
    ['SELECT * FROM pg_shadow', 'unknown_table'],
    ['SELECT * FROM audit.customers', 'unknown_table'],
    ["SELECT pg_read_file('/etc/passwd')", 'function_not_allowed'],
    ['SELECT pg_sleep(10)', 'function_not_allowed'],
    ['SELECT * FROM generate_series(1, 10)', 'function_not_allowed'],
    ['SELECT * INTO stolen FROM customers', 'select_into'],
    ['SELECT * FROM customers FOR UPDATE', 'row_locking'],
    ['COPY (SELECT * FROM customers) TO STDOUT', 'statement_kind'],
    ['COPY customers TO STDOUT', 'statement_kind'],
    ["DO $$ BEGIN PERFORM pg_sleep(1); END $$", 'statement_kind'],
    ['CALL erase_customer(42)', 'statement_kind'],
    ['DELETE FROM customers WHERE id = 42', 'statement_kind'],
    ["UPDATE customers SET city = 'x'", 'statement_kind'],
    ['DROP TABLE customers', 'statement_kind'],
    ['SET search_path = audit, public', 'setting_not_allowed'],
    ['SET ROLE postgres', 'setting_not_allowed'],
    ['SELECT 1; SELECT * FROM customers', 'multiple_statements'],
    ['SELEC * FROM customers', 'unparsable'],
    ["SELECT '110105194912310021'::int FROM customers WHERE", 'unparsable'],
    ['WITH RECURSIVE r AS (SELECT 1 UNION SELECT 1 FROM r) SELECT * FROM r', 'statement_kind'],
  ];
  for (const [sql, reason] of refused) {
    const r = analyzeStatement(sql, catalogue);
    t.match(r, { ok: false, reason }, sql);
    if (!r.ok) t.notOk(r.detail.includes('110105'), 'the refusal never quotes the statement');
  }
});
