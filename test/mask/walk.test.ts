import t from 'tap';
import { FieldReport } from '../../src/mask/report.js';
import { applyView } from '../../src/mask/walk.js';
import type { FieldPlan } from '../../src/mask/plan.js';
import { customer } from '../../src/demo/dataset.js';
import { dictionary, planFor } from '../helpers/masking.js';

/** What a client receives: the view of a fresh copy of `value`, serialised and read back. */
function viewOf(value: unknown, plan: FieldPlan, report: FieldReport): unknown {
  return JSON.parse(JSON.stringify(applyView(JSON.parse(JSON.stringify(value)), plan, report)));
}

const c = customer(7);
const record = { id: 7, name: c.name, idNumber: c.idNumber, mobile: c.mobile, bankCard: c.bankCard, password: 's3cret', remarks: `电话${c.mobile}`, nickname: 'x' };

t.test('default view: C2 by its dictionary operator, C3 and unknown fields dropped, free text scanned', async (t) => {
  const report = new FieldReport();
  const out = viewOf(record, planFor(), report) as Record<string, unknown>;
  t.equal(out.mobile, `${c.mobile.slice(0, 3)}****${c.mobile.slice(-4)}`);
  t.equal(out.bankCard, `${c.bankCard.slice(0, 4)} **** **** ${c.bankCard.slice(-4)}`);
  t.equal(Array.from(out.name as string).length, Array.from(c.name).length, 'name keeps its length');
  t.match(out.name, /^\p{Script=Han}{1,2}\*+$/u);
  t.notOk('password' in out, 'C3 dropped');
  t.notOk('nickname' in out, 'unknown field dropped');
  t.equal(out.idNumber, `${c.idNumber.slice(0, 4)}**********${c.idNumber.slice(-4)}`);
  t.equal(out.remarks, `电话${c.mobile.slice(0, 3)}****${c.mobile.slice(-4)}`);
  const summary = report.toJSON();
  t.same(summary.masked, ['bankCard', 'idNumber', 'mobile', 'name']);
  t.same(summary.dropped, ['nickname', 'password']);
  t.same(summary.kept, ['id', 'remarks']);
  t.equal(summary.detectorHits.mobile, 1);
  t.notMatch(JSON.stringify(summary), c.mobile, 'the report carries names, never values');
});

t.test('views: field beats class beats default; C3 only when named', async (t) => {
  const out = viewOf(
    record,
    planFor({ view: { classes: { C2: 'keep' }, fields: { bankCard: { mask: 'bank_card_last4' }, mobile: 'pseudonym', password: 'keep' } } }),
    new FieldReport(),
  ) as Record<string, unknown>;
  t.equal(out.idNumber, c.idNumber, 'C2 kept by class rule');
  t.equal(out.bankCard, `**** ${c.bankCard.slice(-4)}`, 'field rule beats class rule');
  t.match(out.mobile, /^p1_/);
  t.equal(out.password, 's3cret', 'C3 released only because the view names it');
  const classOnly = viewOf(record, planFor({ view: { classes: { C2: 'keep' } } }), new FieldReport()) as Record<string, unknown>;
  t.notOk('password' in classOnly, 'a C2 rule does not release C3');
});

t.test('names match at any depth, in arrays and nested objects; containers under a masking rule are masked leaf by leaf', async (t) => {
  const doc = { items: [{ id: 1, name: '张三', contacts: [{ mobile: '13812345678' }] }, { id: 2, address: { line: '北京市东城区王府井大街1号', extra: ['13912345678'] } }] };
  const o = viewOf(doc, planFor({ classification: dictionary({ contacts: ['public', 'keep'] }) }), new FieldReport()) as {
    items: [{ name: string; contacts: [{ mobile: string }] }, { address: { line: string } }];
  };
  t.equal(o.items[0].name, '张*');
  t.equal(o.items[0].contacts[0].mobile, '138****5678');
  t.equal(o.items[1].address.line, '北京市东城区****', 'address object: each leaf through the address preset');
  t.notMatch(JSON.stringify(o), '13912345678');
});

t.test('JSON paths take precedence over names', async (t) => {
  const classification = dictionary();
  const paths = new Map(classification.paths);
  paths.set('$.items[*].remarks', { class: 'C2', operator: { mask: 'full' } });
  const plan = planFor({ classification: { fields: classification.fields, paths } });
  const out = viewOf({ remarks: 'top', items: [{ remarks: 'nested' }] }, plan, new FieldReport()) as { remarks: string; items: { remarks: string }[] };
  t.equal(out.remarks, 'top');
  t.equal(out.items[0]?.remarks, '******');
});

t.test('hostile keys are plain data, in the view and in the value it rewrites', async (t) => {
  const text = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"prototype":"p","id":1,"name":"张三"}';
  const keepInput = JSON.parse(text) as Record<string, unknown>;
  const keep = applyView(keepInput, planFor({ unknownFields: 'keep' }), new FieldReport()) as Record<string, unknown>;
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
  t.equal(Object.getPrototypeOf(keep), Object.prototype, 'the rewritten object keeps its prototype');
  t.same(Object.keys(JSON.parse(JSON.stringify(keep))).sort(), ['__proto__', 'constructor', 'id', 'name', 'prototype'].sort());
  t.match(JSON.stringify(keep), '"__proto__":{"polluted":true}', '__proto__ is an ordinary field');
  t.match(JSON.stringify(keep), '"name":"张*"', 'masked in place');
  const dropInput = JSON.parse(text) as Record<string, unknown>;
  const drop = applyView(dropInput, planFor(), new FieldReport()) as Record<string, unknown>;
  t.equal(Object.getPrototypeOf(drop), Object.prototype, 'dropping __proto__ does not touch the prototype');
  t.same(Object.keys(JSON.parse(JSON.stringify(drop))).sort(), ['id', 'name']);
  t.notMatch(JSON.stringify(Object.values(drop)), /polluted|prototype|"p"/, 'no dropped value is left in the rewritten object');
});

t.test('unknown keys that are themselves identifiers are dropped even when unknown fields are kept', async (t) => {
  const out = viewOf({ '13812345678': 'owner', note: 'x' }, planFor({ unknownFields: 'keep' }), new FieldReport());
  t.same(Object.keys(out as object), ['note']);
});

t.test('detectors off only when the route says so', async (t) => {
  const text = { remarks: '电话13812345678' };
  t.equal((viewOf(text, planFor(), new FieldReport()) as { remarks: string }).remarks, '电话138****5678');
  t.equal((viewOf(text, planFor({ detectors: false }), new FieldReport()) as { remarks: string }).remarks, '电话13812345678');
});

// Regression (hostile-peer review): identifier keys were dropped from the body but written in
// clear into the field report, and so into the completion record.
t.test('unknown keys that are identifiers appear in the field report only masked', async (t) => {
  const report = new FieldReport();
  viewOf({ [c.idNumber]: { owner: 1 }, [c.mobile]: 'x', note: 'x' }, planFor(), report);
  const text = JSON.stringify(report.toJSON());
  t.notOk(text.includes(c.idNumber), 'no clear ID number in the report');
  t.notOk(text.includes(c.mobile), 'no clear mobile in the report');
  t.ok(text.includes(`${c.mobile.slice(0, 3)}****${c.mobile.slice(-4)}`), 'the masked name stands in its place');
  t.ok(text.includes('note'), 'ordinary names stay as they are');
});

t.test('a mobile written as a JSON number, with or without a fraction, is masked', async (t) => {
  const body = JSON.parse(`{"remarks": ${c.mobile}.5, "other": ${c.mobile}.0, "small": 12.5}`) as Record<string, unknown>;
  const out = viewOf(body, planFor({ unknownFields: 'keep' }), new FieldReport()) as Record<string, unknown>;
  t.equal(out.remarks, `${c.mobile.slice(0, 3)}****${c.mobile.slice(-4)}.5`);
  t.equal(out.other, `${c.mobile.slice(0, 3)}****${c.mobile.slice(-4)}`);
  t.equal(out.small, 12.5);
});
