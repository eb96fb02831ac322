import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface PortalProcess {
  readonly url: string;
  close(): Promise<void>;
}

export interface PortalSettings {
  readonly port: number;
  readonly loanApiUrl: string;
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The CA that signs the gateway's certificate, as NODE_EXTRA_CA_CERTS. */
  readonly caFile: string;
}

// The portal's entry point beside this file: .ts when run from source (tests), .js when built.
const entry = fileURLToPath(new URL(`./portal/portal.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));

/**
 * Run the demo's customer-service portal as a process of its own, configured only through its
 * environment, the way the company would deploy it: the gateway's address is its LOAN_API_URL.
 */
export function startPortal(settings: PortalSettings): Promise<PortalProcess> {
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, entry], {
    env: {
      PATH: process.env.PATH,
      PORT: String(settings.port),
      LOAN_API_URL: settings.loanApiUrl,
      TOKEN_URL: settings.tokenUrl,
      CLIENT_ID: settings.clientId,
      CLIENT_SECRET: settings.clientSecret,
      NODE_EXTRA_CA_CERTS: settings.caFile,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the demo portal did not start within 30 s'));
    }, 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const port = /portal listening on (\d+)/.exec(output)?.[1];
      if (port === undefined) return;
      clearTimeout(timer);
      child.stdout?.removeAllListeners('data');
      child.stdout?.resume();
      resolve({ url: `http://localhost:${port}`, close });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo portal exited before it listened (code ${code})`));
    });
  });
}
