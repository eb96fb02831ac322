/**
 * Process entry point: the only module with side effects at import. `bin/custodian.js` and
 * `npm start` land here; everything else is built by functions that tests can call.
 */
import { main } from './cli/main.js';

process.on('unhandledRejection', (reason) => {
  // Fail closed: an unexpected rejection means state we cannot vouch for.
  console.error('custodian: unhandled rejection', reason instanceof Error ? reason.message : reason);
  process.exit(70);
});

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
