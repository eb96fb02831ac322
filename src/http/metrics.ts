import type { DetectorHits } from '../mask/detectors.js';
import type { FastifyInstance } from 'fastify';
import { type Metrics, statusClass } from '../metrics/metrics.js';

/** Detector hit counters and their metric label. */
const DETECTOR_TYPES: readonly [keyof DetectorHits, string][] = [
  ['residentId', 'resident_id'],
  ['mobile', 'mobile'],
  ['bankCard', 'bank_card'],
  ['email', 'email'],
  ['landline', 'landline'],
  ['passport', 'passport'],
  ['uscc', 'uscc'],
  ['name', 'name'],
  ['address', 'address'],
];

// The labels of a field report's `class:action` key, split once per key (there are a few dozen).
const labelsByKey = new Map<string, { class: string; action: string }>();
function fieldLabels(key: string): { class: string; action: string } {
  let labels = labelsByKey.get(key);
  if (!labels) {
    const [cls = '', action = ''] = key.split(':');
    labels = { class: cls, action };
    labelsByKey.set(key, labels);
  }
  return labels;
}

/** Stage: count and time every request once it is finished (labels from the policy only). */
export function registerMetrics(app: FastifyInstance, metrics: Metrics) {
  app.addHook('onResponse', (request, reply, done) => {
    const state = request.custodian;
    if (!state) return done();
    const route = state.decision?.match?.route.config.id ?? 'none';
    const decision = state.refusal ? 'deny' : state.decision?.match?.route.config.observe ? 'observe' : 'allow';
    metrics.requests.inc({ route, purpose: state.decision?.purpose?.config.id ?? 'none', decision, status_class: statusClass(reply.statusCode) });
    metrics.duration.observe({ route, decision }, reply.elapsedTime / 1000);
    const application = state.decision?.principal?.application?.id;
    if (application) metrics.applicationRequests.inc({ application, route, decision });
    if (state.refusal) metrics.refusals.inc({ code: state.refusal });
    if (state.upstreamStartedAt !== undefined && state.upstreamRespondedAt !== undefined) {
      metrics.upstreamDuration.observe({ route }, (state.upstreamRespondedAt - state.upstreamStartedAt) / 1000);
    }
    const report = state.fieldReport;
    if (report) {
      for (const [key, n] of report.counts) metrics.maskedFields.inc(fieldLabels(key), n);
      const hits = report.detectorHits;
      for (const [key, type] of DETECTOR_TYPES) if (hits[key]) metrics.detectorHits.inc({ type }, hits[key]);
    }
    done();
  });
}
