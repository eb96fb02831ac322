import { resolve } from 'node:path';
import type { BuildContext } from './build-auth.js';
import type { SecretRef } from './secrets.js';
import type { AuditConfig, StoreConfig } from './types.js';

export interface RawAudit {
  instanceId?: string;
  journalDir?: string;
  durability?: 'before_release' | 'async';
  spoolBudgetBytes?: number;
  segmentBytes?: number;
  retentionDays?: number;
  localTail?: { maxBytes?: number; maxAgeHours?: number; checkEveryMs?: number };
  subjectsCap?: number;
  shipIntervalMs?: number;
  checkpoint?: { key?: SecretRef; everyRecords?: number; everySeconds?: number };
  forward?: {
    syslog?: { host: string; port: number; ca?: SecretRef; serverName?: string; facility?: number };
    jsonLines?: { file: string };
    intervalMs?: number;
    batch?: number;
  };
}

export interface RawStore {
  databaseUrl?: SecretRef;
  embeddedDir?: string;
}

export function buildAudit(raw: RawAudit | undefined, mode: 'production' | 'demo', baseDir: string, ctx: BuildContext): AuditConfig {
  const a = raw ?? {};
  const key = ctx.secret(a.checkpoint?.key, ['audit', 'checkpoint', 'key']);
  if (a.checkpoint?.key === undefined && mode !== 'demo') {
    ctx.issues.push({ path: ['audit'], message: 'audit.checkpoint.key (Ed25519 private key) is required outside demo mode' });
  }
  return {
    instanceId: a.instanceId,
    journalDir: a.journalDir ? resolve(baseDir, a.journalDir) : undefined,
    durability: a.durability ?? 'before_release',
    spoolBudgetBytes: a.spoolBudgetBytes ?? 1073741824,
    segmentBytes: a.segmentBytes ?? 67108864,
    retentionDays: a.retentionDays ?? 1095,
    localTail: {
      maxBytes: a.localTail?.maxBytes ?? 268435456,
      maxAgeMs: (a.localTail?.maxAgeHours ?? 24) * 3600_000,
      checkEveryMs: a.localTail?.checkEveryMs ?? 60_000,
    },
    subjectsCap: a.subjectsCap ?? 20,
    shipIntervalMs: a.shipIntervalMs ?? 250,
    checkpointKey: key,
    checkpointEveryRecords: a.checkpoint?.everyRecords ?? 10000,
    checkpointEverySeconds: a.checkpoint?.everySeconds ?? 60,
    forward: a.forward
      ? {
          syslog: a.forward.syslog
            ? {
                host: a.forward.syslog.host,
                port: a.forward.syslog.port,
                ca: ctx.secret(a.forward.syslog.ca, ['audit', 'forward', 'syslog', 'ca']),
                serverName: a.forward.syslog.serverName ?? a.forward.syslog.host,
                facility: a.forward.syslog.facility ?? 13,
              }
            : undefined,
          jsonLinesFile: a.forward.jsonLines ? resolve(baseDir, a.forward.jsonLines.file) : undefined,
          intervalMs: a.forward.intervalMs ?? 1000,
          batch: a.forward.batch ?? 2000,
        }
      : undefined,
  };
}

export function buildStore(raw: RawStore | undefined, baseDir: string, ctx: BuildContext, env: NodeJS.ProcessEnv): StoreConfig {
  const url = raw?.databaseUrl !== undefined ? ctx.secret(raw.databaseUrl, ['store', 'databaseUrl']) : env.DATABASE_URL || undefined;
  return { databaseUrl: url, embeddedDir: raw?.embeddedDir ? resolve(baseDir, raw.embeddedDir) : undefined };
}
