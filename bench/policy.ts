import { DETECTOR_KINDS } from '../src/mask/detectors.js';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { buildClassification } from '../src/config/build-masking.js';
import type { Classification, RouteConfig } from '../src/config/types.js';

/** The demo's data dictionary, for micro benchmarks. */
export function benchClassification(): Classification {
  return buildClassification(parse(readFileSync('config/demo.yaml', 'utf8')).classification);
}

/** A route whose customer-service view is the default view (C2 by its display preset). */
export function benchRoute(): RouteConfig {
  return {
    id: 'bench',
    methods: ['GET'],
    path: '/bench',
    upstream: 'bench',
    purposes: ['customer_service'],
    unknownFields: 'drop',
    detectors: true,
    detectorKinds: DETECTOR_KINDS,
    observe: false,
    passthrough: [],
    subjects: [],
    destructive: false,
    responseHeaders: { release: [], scan: [] },
    views: {},
  };
}
