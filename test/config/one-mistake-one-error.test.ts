import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import t from 'tap';
import { ConfigError } from '../../src/config/issues.js';
import { parseConfig } from '../../src/config/load.js';
import { lintPolicy } from '../../src/policy/lint.js';

/**
 * A security officer's typo gets one error, at its line, naming what was meant — not seven
 * (every branch of an alternative) or thirty-seven (every line after a YAML slip).
 */
const source = resolve('config/demo.yaml');
const demo = readFileSync(source, 'utf8');

function lineOf(text: string, snippet: string): number {
  return text.slice(0, text.indexOf(snippet)).split('\n').length;
}

function errorsAfter(from: string, to: string) {
  t.ok(demo.includes(from), `the demo policy contains ${from}`);
  const edited = demo.replace(from, to);
  try {
    parseConfig(source, edited, { env: {} });
  } catch (err) {
    if (err instanceof ConfigError) return { issues: err.issues, line: lineOf(edited, to) };
    throw err;
  }
  return { issues: [], line: lineOf(edited, to) };
}

const typos: { what: string; from: string; to: string; says: RegExp }[] = [
  { what: 'a misspelt masking preset', from: 'operator: { mask: bank_card }', to: 'operator: { mask: bank_crad }', says: /"bank_crad" is not one of: .*did you mean "bank_card"\?/ },
  { what: 'a misspelt required key', from: 'lawfulBasis: legal_obligation', to: 'lawfullBasis: legal_obligation', says: /unknown key "lawfullBasis"; did you mean "lawfulBasis"\?/ },
  { what: 'a class in the wrong case', from: 'password: { class: C3 }', to: 'password: { class: c3 }', says: /"c3" is not one of: .*did you mean "C3"\?/ },
  { what: 'a misspelt durability', from: 'durability: before_release', to: 'durability: before_relase', says: /did you mean "before_release"\?/ },
  { what: 'a misspelt purpose on a route', from: '    purposes: [risk_management]\n', to: '    purposes: [risk_managment]\n', says: /unknown purpose "risk_managment"; did you mean "risk_management"\?/ },
  { what: 'a misspelt generalisation', from: 'operator: { generalize: year }', to: 'operator: { generalize: yaer }', says: /"yaer" is not one of: .*did you mean "year"\?/ },
  { what: 'an unknown operator name', from: 'operator: { mask: name }', to: 'operator: { mask: nmae }', says: /"nmae" is not one of: .*did you mean "name"\?/ },
];

for (const typo of typos) {
  t.test(typo.what, async (t) => {
    const { issues, line } = errorsAfter(typo.from, typo.to);
    t.equal(issues.length, 1, `one error, not ${issues.length}: ${issues.map((i) => i.message).join(' | ')}`);
    t.match(issues[0]?.message, typo.says);
    t.equal(issues[0]?.line, line, 'at the line of the mistake');
  });
}

t.test('one broken YAML line is one error, at that line or the next', async (t) => {
  for (const [from, to] of [
    ['    name: { class: C2, operator: { mask: name } }', '   name: { class: C2, operator: { mask: name } }'],
    ['    name: { class: C2, operator: { mask: name } }', '    name { class: C2, operator: { mask: name } }'],
    ['    lawfulBasis: contract\n', '    lawfulBasis contract\n'],
  ] as const) {
    const { issues, line } = errorsAfter(from, to);
    t.equal(issues.length, 1, `${to.trim()}: one error, not ${issues.length}`);
    t.match(issues[0]?.message, /YAML syntax/);
    t.ok(issues[0] && issues[0].line >= line && issues[0].line <= line + 1, `${to.trim()}: reported at line ${issues[0]?.line}, the mistake is on ${line}`);
  }
});

t.test('a view naming a field the dictionary lacks is a warning that suggests the field meant', async (t) => {
  // The export route's view (the database section has one like it, earlier in the file).
  const from = '        fields: { idNumber: pseudonym, name: pseudonym';
  t.equal(demo.indexOf(from), demo.lastIndexOf(from), 'one such line');
  const config = parseConfig(source, demo.replace(from, '        fields: { idNumbr: pseudonym, name: pseudonym'), { env: {} });
  const warnings = lintPolicy(config).map((w) => w.message);
  t.equal(warnings.length, 1, warnings.join(' | '));
  t.match(warnings[0], /view names "idNumbr", .*did you mean "idNumber"\?/);
});
