import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logging.js';
import { startGateway } from '../../src/server.js';

/** Custodian's full pipeline with a bench policy (written by bench/proxy.ts into BENCH_DIR). */
const dir = process.env.BENCH_DIR;
if (!dir) throw new Error('BENCH_DIR is required');
const name = process.env.BENCH_CONFIG ?? 'custodian';
const gateway = await startGateway(loadConfig(join(dir, `${name}.yaml`)), { logger: silentLogger(), varDir: join(dir, `var-${name}`) });
writeFileSync(join(dir, `${name}.pid`), String(process.pid));
process.send?.({ port: Number(new URL(gateway.dataUrl).port) });
