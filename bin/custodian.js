#!/usr/bin/env node
// The `custodian` command. `npm ci` builds dist/ through the `prepare` script.
import '../dist/index.js';
