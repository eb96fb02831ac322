import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runAuditSubject, runAuditVerify } from './audit.js';
import { runAdmin } from './admin.js';
import { runCheck } from './check.js';
import { runExplain } from './explain.js';
import { runPolicyTests } from './policy-test.js';
import { existsSync } from 'node:fs';
import { runReport } from './report.js';
import { runPolicyDiff, runPolicyShow, runPolicySign, runPolicyVersions } from './policy.js';
import { runDemo } from './demo.js';
import { loadOrReport, runServe } from './serve.js';

const USAGE = `usage: custodian <command> [options]

commands:
  serve -c FILE     run the gateway with a configuration file
  check -c FILE [--against FILE|VERSION]
                    would this policy be admitted: every error and warning with its line, its
                    signatures, its policy tests, and its impact against the policy it replaces
                    (--allow-warnings: exit 0 when there are only warnings)
  demo              run the demo loan API with the gateway in front of it (config/demo.yaml)
  audit verify [-c FILE] [--journal-only|--database-only] [--prom-file FILE]
                    check every audit chain and checkpoint signature; exit 1 naming the first break
  audit subject ID [-c FILE] [--from DATE] [--to DATE] [--json]
                    who accessed this customer's data: time, caller, role, purpose, route, classes revealed
  explain [-c FILE] (--token JWT | --claims JSON|@file [--application ID]) [--cert PEM] [--purpose P]
          [--approval ID] METHOD PATH [--body FILE] [--offline] [--json]
                    what the gateway would do: the same decision (the store read, never written;
                    --offline: on stated assumptions) and the view of the upstream's body, field by field
  policy sign -c FILE --key KEY.pem --signer OFFICER [--cosign]
                    sign a policy file (writes FILE.sig) as an information-protection officer;
                    --cosign adds a second officer's signature (four-eyes on a revealing change)
  policy diff A B [-c FILE]
                    what changes for people when B replaces A (files or kept version ids)
  policy versions [-c FILE]
                    every loaded version: id, time, how, signers, impact
  policy show VERSION [-c FILE] [--out FILE]
                    a kept version's exact text (roll back: sign it and load it)
  admin ACTION …    the admin API for scripts (--admin-url, token from --token or CUSTODIAN_ADMIN_TOKEN):
                    restrict --customer ID [--kind objection] [--purposes a,b] --ticket T
                    answer --id ID --reply TEXT | lift --id ID
                    consent --customer ID --recipient P --purpose P --fields a,b --expires DATE --evidence REF
                    withdraw --id ID | approve --method M --path P --requester SUB [--body-file F] [--ttl S]
                    list restrictions|consents|partners|approvals|destructions|versions [--customer ID]
                    | history CUSTOMER_ID   (officer or auditor token for lists and history)
  report inspection [-c FILE] [--from DATE] [--to DATE] [--format html|md|csv|json] [--out FILE]
                    the supervision group's inspection report over the audit store (default: the
                    last 30 days, HTML, local time --utc-offset +08:00)
  report subject ID [-c FILE] [--from DATE] [--to DATE] [--format …] [--out FILE]
                    "who saw my data": the document the officer hands to customer ID
                    (--admin-url URL --token T: from a running gateway, e.g. the demo)
  test FILE         run policy test cases (request + claims + purpose + body → decision and view)
  (audit and explain default to -c config/demo.yaml; audit to --var-dir var)
`;

/** CLI entry: returns the exit code, or undefined when a server keeps the process alive. */
export async function main(argv: readonly string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      'var-dir': { type: 'string' },
      'allow-warnings': { type: 'boolean' },
      against: { type: 'string' },
      cosign: { type: 'boolean' },
      out: { type: 'string' },
      format: { type: 'string' },
      'utc-offset': { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      json: { type: 'boolean' },
      'journal-only': { type: 'boolean' },
      'database-only': { type: 'boolean' },
      token: { type: 'string' },
      claims: { type: 'string' },
      application: { type: 'string' },
      cert: { type: 'string' },
      approval: { type: 'string' },
      offline: { type: 'boolean' },
      purpose: { type: 'string' },
      body: { type: 'string' },
      'prom-file': { type: 'string' },
      key: { type: 'string' },
      signer: { type: 'string' },
      'admin-url': { type: 'string' },
      customer: { type: 'string' },
      kind: { type: 'string' },
      purposes: { type: 'string' },
      ticket: { type: 'string' },
      'due-days': { type: 'string' },
      id: { type: 'string' },
      reply: { type: 'string' },
      recipient: { type: 'string' },
      fields: { type: 'string' },
      expires: { type: 'string' },
      evidence: { type: 'string' },
      method: { type: 'string' },
      path: { type: 'string' },
      requester: { type: 'string' },
      ttl: { type: 'string' },
      reason: { type: 'string' },
      'body-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  switch (command) {
    case 'check':
      if (!values.config) return usage('check needs -c FILE');
      return runCheck(values.config, { allowWarnings: values['allow-warnings'] ?? false, against: values.against, varDir: values['var-dir'] });
    case 'serve': {
      if (!values.config) return usage('serve needs -c FILE');
      const result = await runServe(values.config);
      return typeof result === 'number' ? result : undefined;
    }
    case 'audit': {
      const [sub, subject] = positionals;
      const config = loadOrReport(values.config ?? 'config/demo.yaml');
      if (!config) return 1;
      const varDir = resolve(values['var-dir'] ?? 'var');
      if (sub === 'verify') {
        return runAuditVerify(config, {
          varDir,
          journal: !values['database-only'],
          database: !values['journal-only'],
          promFile: values['prom-file'],
        });
      }
      if (sub === 'subject' && subject) {
        return runAuditSubject(config, subject, { varDir, from: values.from, to: values.to, json: values.json });
      }
      return usage('audit needs "verify" or "subject <customerId>"');
    }
    case 'explain': {
      const [method, path] = positionals;
      if (!method || !path) return usage('explain needs METHOD PATH');
      const config = loadOrReport(values.config ?? 'config/demo.yaml');
      if (!config) return 1;
      return runExplain(config, {
        method,
        path,
        purpose: values.purpose,
        token: values.token,
        claims: values.claims,
        application: values.application,
        cert: values.cert,
        approval: values.approval,
        body: values.body,
        offline: values.offline,
        json: values.json,
        varDir: values['var-dir'],
      });
    }
    case 'admin': {
      const [action, target] = positionals;
      return runAdmin({ action, target, adminUrl: values['admin-url'] ?? 'http://127.0.0.1:9464', token: values.token, options: values });
    }
    case 'policy': {
      const [sub, a, b] = positionals;
      const varDir = resolve(values['var-dir'] ?? 'var');
      if (sub === 'sign') {
        if (!values.config || !values.key || !values.signer) return usage('policy sign needs -c FILE --key PRIVATE_KEY_PEM --signer OFFICER_ID');
        return runPolicySign(values.config, values.key, values.signer, values.cosign ?? false);
      }
      if (sub === 'diff') {
        if (!a || !b) return usage('policy diff needs two policies (files or version ids)');
        const config = values.config || !(existsSync(a) && existsSync(b)) ? loadOrReport(values.config ?? 'config/demo.yaml') : undefined;
        return runPolicyDiff(a, b, config, varDir);
      }
      const config = loadOrReport(values.config ?? 'config/demo.yaml');
      if (!config) return 1;
      if (sub === 'versions') return runPolicyVersions(config, varDir);
      if (sub === 'show' && a) return runPolicyShow(a, config, varDir, values.out);
      return usage('policy needs sign, diff, versions or show');
    }
    case 'report': {
      const [kind, subject] = positionals;
      const config = loadOrReport(values.config ?? 'config/demo.yaml');
      if (!config) return 1;
      return runReport(kind, subject, config, {
        varDir: resolve(values['var-dir'] ?? 'var'),
        from: values.from,
        to: values.to,
        format: values.format,
        out: values.out,
        utcOffset: values['utc-offset'],
        adminUrl: values['admin-url'],
        token: values.token,
      });
    }
    case 'test': {
      const [file] = positionals;
      if (!file) return usage('test needs a policy-tests YAML file');
      return runPolicyTests(file);
    }
    case 'demo': {
      const code = await runDemo({ varDir: resolve(values['var-dir'] ?? 'var') });
      return code === 0 ? undefined : code;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      return usage(`unknown command "${command}"`);
  }
}

function usage(problem: string): number {
  console.error(`${problem}\n\n${USAGE}`);
  return 2;
}
