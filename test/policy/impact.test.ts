import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parseConfig } from '../../src/config/load.js';
import { formatImpact, policyImpact } from '../../src/policy/impact.js';
import { tempDir } from '../helpers/gateway.js';

/**
 * The impact report: each kind of edit to the demo policy yields the line a security team needs
 * to see, flagged as revealing when it lets someone see personal data in clear (or unmasked, or
 * to a new party); an edit that changes nothing for people says so.
 */
const source = resolve('config/demo.yaml');
const demo = readFileSync(source, 'utf8');
const before = parseConfig(source, demo, { env: {} });

/** The demo with its last `from` (the routes come after the database section) replaced by `to`. */
function impactOf(from: string, to: string) {
  const at = demo.lastIndexOf(from);
  t.ok(at >= 0, `the demo policy contains ${JSON.stringify(from.slice(0, 60))}`);
  return policyImpact(before, parseConfig(source, demo.slice(0, at) + to + demo.slice(at + from.length), { env: {} }));
}

const edits: { what: string; from: string; to: string; line: RegExp; revealing: boolean }[] = [
  {
    what: 'scan a route\'s free text for fewer kinds',
    from: '    subjects: [{ param: customerId }]\n    purposes: [credit_assessment, risk_management, customer_service, collection, internal_audit, credit_reporting]\n',
    to: '    subjects: [{ param: customerId }]\n    purposes: [credit_assessment, risk_management, customer_service, collection, internal_audit, credit_reporting]\n    detectors: [residentId, mobile, bankCard, uscc]\n',
    line: /^REVEALS {2}route customers\.detail: free text no longer scanned for email, landline, passport, name, address$/,
    revealing: true,
  },
  {
    what: 'reveal a class to a purpose',
    from: 'classes: { C2: default }\n        fields: { monthlyIncome: drop',
    to: 'classes: { C2: keep }\n        fields: { monthlyIncome: drop',
    line: /^REVEALS {2}route customers\.detail · purpose customer_service: address, bankCard, email, idNumber, mobile, name \(C2\) masked → clear$/,
    revealing: true,
  },
  {
    what: 'remove a drop',
    from: 'fields: { monthlyIncome: drop, birthDate: drop, creditScore: drop, riskLevel: drop }',
    to: 'fields: { birthDate: drop, creditScore: drop, riskLevel: drop }',
    line: /^WIDENS {3}route customers\.detail · purpose customer_service: monthlyIncome \(C2\) dropped → generalised$/,
    revealing: false,
  },
  {
    what: 'widen a role of a purpose that sees C2 in clear',
    from: 'roles: [credit_officer]',
    to: 'roles: [credit_officer, intern]',
    line: /^REVEALS {2}purpose credit_assessment: roles added: intern$/,
    revealing: true,
  },
  {
    what: 'widen a role of a purpose that sees only masked data',
    from: 'roles: [cs_agent]',
    to: 'roles: [cs_agent, intern]',
    line: /^WIDENS {3}purpose customer_service: roles added: intern$/,
    revealing: false,
  },
  {
    what: 'drop a required attestation',
    from: '    roles: [collector]\n    callerKinds: [staff]\n    requiredAttestations: [training, nda]',
    to: '    roles: [collector]\n    callerKinds: [staff]\n    requiredAttestations: [training]',
    line: /^REVEALS {2}purpose collection: no longer requires nda$/,
    revealing: true,
  },
  {
    what: 'add a route',
    from: 'routes:\n',
    to: 'routes:\n  - { id: notes, method: GET, path: /api/notes/:id, upstream: loans, purposes: [collection], subjects: [{ param: id }] }\n',
    line: /^WIDENS {3}route notes added: GET \/api\/notes\/:id for collection$/,
    revealing: false,
  },
  {
    what: 'a new route shows what it releases in clear',
    from: 'routes:\n',
    to: 'routes:\n  - { id: notes, method: GET, path: /api/notes/:id, upstream: loans, purposes: [collection], subjects: [{ param: id }], views: { collection: { classes: { C2: keep } } } }\n',
    line: /^REVEALS {2}route notes · purpose collection: address, bankCard, birthDate, email, idNumber, mobile, monthlyIncome, name \(C2\) no access → clear$/,
    revealing: true,
  },
  {
    what: 'release a route unmasked',
    from: '    purposes: [customer_service]\n',
    to: '    purposes: [customer_service]\n    passthrough: [customer_service]\n',
    line: /^REVEALS {2}route customers\.documents\.delete: bodies released unmasked \(passthrough\) for customer_service$/,
    revealing: true,
  },
  {
    what: 'raise a bulk limit',
    from: 'bulkLimit: { windowSeconds: 3600, alertAt: 150, refuseAt: 200 }',
    to: 'bulkLimit: { windowSeconds: 3600, alertAt: 150, refuseAt: 2000 }',
    line: /^WIDENS {3}purpose customer_service: bulk limit raised: 200\/3600 s → 2000\/3600 s/,
    revealing: false,
  },
  {
    what: 'give a partner another field',
    from: 'fields: [id, name, idNumber, birthDate, monthlyIncome, creditScore, riskLevel, createdAt]',
    to: 'fields: [id, name, idNumber, mobile, birthDate, monthlyIncome, creditScore, riskLevel, createdAt]',
    line: /^REVEALS {2}partner bureau-a: fields added: mobile$/,
    revealing: true,
  },
  {
    what: 'stop running the policy tests',
    from: 'policyTests: [policy-tests.yaml]',
    to: 'policyTests: []',
    line: /^REVEALS {2}policy tests no longer run: policy-tests\.yaml$/,
    revealing: true,
  },
  {
    what: 'narrow a view',
    from: 'fields: { name: keep, mobile: keep, address: keep, monthlyIncome: drop, creditScore: drop }',
    to: 'fields: { name: keep, mobile: keep, monthlyIncome: drop, creditScore: drop }',
    line: /^NARROWS {2}route customers\.detail · purpose collection: address \(C2\) clear → masked$/,
    revealing: false,
  },
];

for (const edit of edits) {
  t.test(edit.what, async (t) => {
    const report = impactOf(edit.from, edit.to);
    const lines = formatImpact(report);
    t.ok(
      lines.some((l) => edit.line.test(l)),
      `a line matching ${edit.line}; got:\n${lines.join('\n')}`,
    );
    if (edit.revealing) t.equal(report.revealing, true, 'flagged as revealing');
    else t.equal(report.revealing, false, `not revealing: ${lines.filter((l) => l.startsWith('REVEALS')).join(' | ')}`);
  });
}

t.test('an edit that changes nothing for people says so', async (t) => {
  const report = impactOf('# The access record', '# The access record (reworded comment)');
  t.same(formatImpact(report), ['no change to what anyone sees']);
  t.equal(report.revealing, false);
});

t.test('custodian policy diff prints the report for two files', async (t) => {
  const dir = tempDir(t);
  const after = join(dir, 'demo.yaml');
  writeFileSync(after, demo.replace('classes: { C2: default }\n        fields: { monthlyIncome: drop', 'classes: { C2: keep }\n        fields: { monthlyIncome: drop'));
  writeFileSync(join(dir, 'policy-tests.yaml'), readFileSync('config/policy-tests.yaml'));
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/index.ts', 'policy', 'diff', 'config/demo.yaml', after], { encoding: 'utf8' });
  t.match(stdout, /REVEALS {2}route customers\.detail · purpose customer_service: .*masked → clear/);
  t.match(stdout, /this change reveals data/);
});
