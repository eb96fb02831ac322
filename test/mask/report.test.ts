import t from 'tap';
import { FieldReport, type ReportableRule } from '../../src/mask/report.js';

const rule = (name: string, action: 'kept' | 'masked', dataClass: string, slot?: number): ReportableRule => ({ name, dataClass, operator: { action }, slot });

t.test('counts per rule whether rules share slots, have none, or are unknown fields', async (t) => {
  const report = new FieldReport();
  const idNumber = rule('idNumber', 'masked', 'C2', 0);
  const mobile = rule('mobile', 'masked', 'C2', 1);
  const sameSlotOtherPlan = rule('name', 'kept', 'C2', 0);
  const noSlot = rule('(identifier key)', 'masked', 'unknown');
  for (let i = 0; i < 3; i++) report.record(idNumber, 'idNumber');
  report.record(mobile, 'mobile');
  report.record(sameSlotOtherPlan, 'name');
  report.record(sameSlotOtherPlan, 'name');
  report.record(noSlot, '(identifier key)');
  report.record({ name: undefined, dataClass: 'unknown', operator: { action: 'kept' } }, 'note');
  t.same(Object.fromEntries(report.counts), { 'C2:masked': 4, 'C2:kept': 2, 'unknown:masked': 1, 'unknown:kept': 1 });
  t.same(report.toJSON().masked, ['(identifier key)', 'idNumber', 'mobile']);
  t.same(report.toJSON().kept, ['name', 'note']);
  t.same(report.toJSON().revealedClasses, ['C2'], 'a C2 field kept in clear is reported as revealed');
});
