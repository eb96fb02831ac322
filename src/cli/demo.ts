import { join } from 'node:path';
import { buildLoanApi } from '../demo/loan-api.js';
import { startGateway } from '../server.js';
import { shipped } from '../paths.js';
import { closeOnSignals, loadOrReport } from './serve.js';

/** `custodian demo`: the demo loan API plus the gateway in front of it, with curl lines to try. */
export async function runDemo(options: { varDir: string }): Promise<number> {
  const config = loadOrReport(shipped('config/demo.yaml'));
  if (!config) return 1;
  const upstream = new URL(config.upstreams.get('loans')?.origin ?? 'http://127.0.0.1:9700');

  const loanApi = buildLoanApi({ customers: 1000 });
  await loanApi.listen({ host: upstream.hostname, port: Number(upstream.port) });
  const gateway = await startGateway(config, { varDir: options.varDir });
  closeOnSignals(async () => {
    await gateway.close();
    await loanApi.close();
  });

  const cacert = join(options.varDir, 'dev-cert.pem');
  const base = `https://localhost:${config.listen.data.port}`;
  const lines = [
    '',
    'Custodian demo is running.',
    `  data plane   ${base}  (development certificate: ${cacert})`,
    `  admin plane  http://${config.listen.admin.host}:${config.listen.admin.port}/readyz`,
    config.listen.plaintext ? `  plaintext    http://localhost:${config.listen.plaintext.port}  (refuses every request)` : '',
    `  demo loan API (behind the gateway) ${upstream.origin}`,
    '',
    'Try:',
    `  curl --cacert ${cacert} ${base}/api/customers/42`,
    `  curl --cacert ${cacert} '${base}/api/customers?page=1&pageSize=5'`,
    `  curl --cacert ${cacert} ${base}/api/customers/42/loans`,
    `  curl --cacert ${cacert} ${base}/api/customers/..%2f..%2fadmin        # refused: ambiguous path`,
    `  curl --cacert ${cacert} ${base}/internal/anything                   # refused: no route`,
    config.listen.plaintext ? `  curl http://localhost:${config.listen.plaintext.port}/api/customers/42   # refused: TLS required` : '',
    '',
    'Press Ctrl-C to stop.',
  ];
  console.log(lines.filter((l, i, all) => l !== '' || all[i - 1] !== '').join('\n'));
  return 0;
}
