import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logging.js';
import { startGateway } from '../../src/server.js';

/** A gateway in a child process (fault tests kill it): argv = config file, var dir. */
const [file, varDir] = process.argv.slice(2);
if (!file || !varDir) throw new Error('usage: gateway-process CONFIG VARDIR');
const gateway = await startGateway(loadConfig(file), { logger: silentLogger(), varDir });
process.send?.({ dataUrl: gateway.dataUrl, adminUrl: gateway.adminUrl });
process.on('SIGTERM', () => {
  gateway.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
