import { statfsSync } from 'node:fs';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AuditService } from '../audit/service.js';
import type { PolicyHolder } from '../policy/compile.js';

/**
 * Every metric the supervision group watches, on one registry. Labels are bounded: route ids
 * and purposes come from the policy, decisions and status classes from fixed sets — never a raw
 * path, a subject or a user id.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'custodian_requests_total',
    help: 'Requests by route, purpose, decision and status class.',
    labelNames: ['route', 'purpose', 'decision', 'status_class'] as const,
    registers: [this.registry],
  });
  /**
   * Requests an application made (the `clients` of the policy), by application, route and
   * decision (statements and refused sessions through the database front end under the route
   * `database`): which application is reading, and how much of it is refused. The application ids
   * come from the policy, so the labels stay bounded; the person acting through it is in the
   * access record, never a label.
   */
  readonly applicationRequests = new Counter({
    name: 'custodian_application_requests_total',
    help: 'Requests made through an application the policy trusts, by application, route and decision.',
    labelNames: ['application', 'route', 'decision'] as const,
    registers: [this.registry],
  });
  readonly refusals = new Counter({
    name: 'custodian_refusals_total',
    help: 'Refused requests by error code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'custodian_request_duration_seconds',
    help: 'Total time in the gateway per request.',
    labelNames: ['route', 'decision'] as const,
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly upstreamDuration = new Histogram({
    name: 'custodian_upstream_duration_seconds',
    help: 'Time from forwarding to the upstream response headers.',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly maskedFields = new Counter({
    name: 'custodian_fields_total',
    help: 'Response fields by data class and the action taken (kept, masked, pseudonymised, generalised, dropped, nulled).',
    labelNames: ['class', 'action'] as const,
    registers: [this.registry],
  });
  readonly detectorHits = new Counter({
    name: 'custodian_detector_hits_total',
    help: 'Identifiers found and masked in free text, by type.',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly databaseStatements = new Counter({
    name: 'custodian_database_statements_total',
    help: 'Statements through the PostgreSQL front end by purpose and decision (allow, deny).',
    labelNames: ['purpose', 'decision'] as const,
    registers: [this.registry],
  });
  readonly databaseRows = new Counter({
    name: 'custodian_database_rows_total',
    help: 'Rows released through the PostgreSQL front end, by purpose (counted as they stream).',
    labelNames: ['purpose'] as const,
    registers: [this.registry],
  });
  readonly databaseSessions = new Gauge({
    name: 'custodian_database_sessions',
    help: 'Client sessions open on the PostgreSQL front end.',
    registers: [this.registry],
  });
  readonly auditDurability = new Histogram({
    name: 'custodian_audit_durability_seconds',
    help: 'Time from appending a decision record to its fsync (group commit).',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [this.registry],
  });
  readonly bulkAlerts = new Counter({
    name: 'custodian_bulk_alerts_total',
    help: 'Callers crossing a purpose\'s bulk-access alert threshold (distinct customers in the window).',
    labelNames: ['purpose'] as const,
    registers: [this.registry],
  });
  readonly reloads = new Counter({
    name: 'custodian_policy_reloads_total',
    help: 'Policy reload attempts by result.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly reloadSuccess = new Gauge({
    name: 'custodian_policy_last_reload_success',
    help: '1 if the last reload attempt succeeded (or none was made), 0 if it failed.',
    registers: [this.registry],
  });
  readonly reloadTimestamp = new Gauge({
    name: 'custodian_policy_last_reload_timestamp_seconds',
    help: 'Time of the last reload attempt.',
    registers: [this.registry],
  });

  /** Forwarding to the log platform: records shipped to the database but not yet confirmed by a target. */
  watchForwarding(forwarder: { readonly status: readonly { target: string; forwardedSeq: number }[] }, shippedSeq: () => number): void {
    new Gauge({
      name: 'custodian_audit_forward_lag_records',
      help: 'Audit records in the database not yet confirmed received by each forwarding target (syslog, jsonl).',
      labelNames: ['target'] as const,
      registers: [this.registry],
      collect() {
        const head = shippedSeq();
        for (const s of forwarder.status) this.set({ target: s.target }, Math.max(0, head - s.forwardedSeq));
      },
    });
  }

  /** Objections past their answer date (征信业管理条例 art. 25: 20 days). */
  watchRestrictions(source: OverdueSource): void {
    new Gauge({
      name: 'custodian_objections_overdue',
      help: 'Customer objections past their due date without a written answer.',
      registers: [this.registry],
      collect() {
        this.set(source.overdueObjections);
      },
    });
  }

  constructor(policy: PolicyHolder, audit: AuditService) {
    collectDefaultMetrics({ register: this.registry, prefix: 'custodian_' });
    // prom-client names these gauges *_total, which promtool rejects (only counters may end so);
    // they are dropped rather than exported with a lint error. The same counts stay available as
    // custodian_nodejs_active_handles, _requests and _resources, which are correctly named.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(`custodian_${name}`);
    }
    this.reloadSuccess.set(1);
    const registers = [this.registry];
    new Gauge({
      name: 'custodian_policy_info',
      help: 'The running policy: its version (SHA-256 prefix of the file) as a label.',
      labelNames: ['version'] as const,
      registers,
      collect() {
        this.reset();
        this.set({ version: policy.current.version }, 1);
      },
    });
    new Gauge({
      name: 'custodian_purpose_review_seconds_remaining',
      help: "Seconds until each purpose's officer review expires (negative: expired and disabled).",
      labelNames: ['purpose'] as const,
      registers,
      collect() {
        this.reset();
        const now = Date.now() / 1000;
        for (const p of policy.current.purposes.values()) this.set({ purpose: p.config.id }, Math.round(p.reviewEndsAt - now));
      },
    });
    new Gauge({
      name: 'custodian_policy_unsigned',
      help: '1 when a production gateway runs with policy.requireSignature: false (any edit to the file goes live unsigned).',
      registers,
      collect() {
        this.set(policy.current.config.policy.unsignedInProduction ? 1 : 0);
      },
    });
    new Gauge({
      name: 'custodian_observe_mode_routes',
      help: 'Routes in observe mode (decide and report, but do not mask or block).',
      registers,
      collect() {
        this.set(policy.current.config.routes.filter((r) => r.observe).length);
      },
    });
    new Gauge({
      name: 'custodian_token_cache_hit_ratio',
      help: 'Verified-token cache hits / lookups since the policy was loaded.',
      registers,
      collect() {
        const { hits, misses } = policy.current.authenticator.cache;
        this.set(hits + misses === 0 ? 0 : hits / (hits + misses));
      },
    });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge('custodian_audit_queue_depth', 'Records waiting for the next group commit.', () => audit.journal.queueLength);
    gauge('custodian_audit_spool_bytes', 'Journal bytes not yet shipped to the database.', () => audit.health.journal.unshippedBytes);
    gauge('custodian_audit_spool_budget_bytes', 'The spool budget; at it, data requests are refused.', () => audit.health.journal.budgetBytes);
    gauge('custodian_audit_ship_lag_records', 'Journal records not yet in the database.', () => audit.health.shipper.lagRecords);
    gauge('custodian_audit_ship_failures', 'Failed shipping attempts since start.', () => audit.health.shipper.failures);
    gauge('custodian_audit_writable', '1 while the journal accepts records.', () => (audit.canRecord() ? 1 : 0));
    gauge('custodian_audit_async_failures', 'Records that could not be written when nothing waited on them.', () => audit.health.asyncFailures);
    gauge('custodian_audit_journal_write_failures', 'Journal write failures since start.', () => audit.journal.writeFailures);
    gauge('custodian_audit_journal_local_bytes', 'Journal segment bytes on this pod (unshipped plus the local tail).', () => audit.localBytes);
    gauge('custodian_audit_journal_disk_free_ratio', "Free fraction of the journal's file system (a full disk refuses every data request).", () => {
      try {
        const fs = statfsSync(audit.journal.dir);
        return fs.blocks === 0 ? 1 : fs.bavail / fs.blocks;
      } catch {
        return 0;
      }
    });
  }
}

export interface OverdueSource {
  readonly overdueObjections: number;
}

export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}
