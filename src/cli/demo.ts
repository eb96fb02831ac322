import { startDemo } from '../demo/run.js';
import { closeOnSignals, reloadOnHangup } from './serve.js';

/** `custodian demo`: identity provider, demo loan API and the gateway, with curl lines to try. */
export async function runDemo(options: { varDir: string }): Promise<number> {
  const demo = await startDemo({ varDir: options.varDir });
  closeOnSignals(() => demo.close());
  reloadOnHangup(() => demo.gateway.reload());
  console.log(demo.instructions);
  return 0;
}
