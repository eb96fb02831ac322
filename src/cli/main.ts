import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runCheck } from './check.js';
import { runDemo } from './demo.js';
import { runServe } from './serve.js';

const USAGE = `usage: custodian <command> [options]

commands:
  serve -c FILE     run the gateway with a configuration file
  check -c FILE     validate a configuration; exit 1 listing every error and warning with its line
                    (--allow-warnings: exit 0 when there are only warnings)
  demo              run the demo loan API with the gateway in front of it (config/demo.yaml)
`;

/** CLI entry: returns the exit code, or undefined when a server keeps the process alive. */
export async function main(argv: readonly string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      'var-dir': { type: 'string' },
      'allow-warnings': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  switch (command) {
    case 'check':
      if (!values.config) return usage('check needs -c FILE');
      return runCheck(values.config, { allowWarnings: values['allow-warnings'] ?? false });
    case 'serve': {
      if (!values.config) return usage('serve needs -c FILE');
      const result = await runServe(values.config);
      return typeof result === 'number' ? result : undefined;
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
