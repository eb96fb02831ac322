import { loadConfig } from '../../src/config/load.js';
import { createLogger, silentLogger } from '../../src/logging.js';
import { startGateway } from '../../src/server.js';

/** A gateway in a child process (fault tests kill it): argv = config file, var dir. */
const [file, varDir] = process.argv.slice(2);
if (!file || !varDir) throw new Error('usage: gateway-process CONFIG VARDIR');
// CUSTODIAN_TEST_LOG: the gateway's real JSON log on stdout, for tests that scan it.
const level = process.env.CUSTODIAN_TEST_LOG;
const gateway = await startGateway(loadConfig(file), { logger: level ? createLogger({ level }) : silentLogger(), varDir });
process.send?.({ dataUrl: gateway.dataUrl, adminUrl: gateway.adminUrl, databasePort: gateway.databasePort });
process.on('SIGTERM', () => {
  gateway.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
