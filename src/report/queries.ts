import type { Db } from '../store/db.js';
import type { RecordRefs } from './model.js';

/**
 * SQL helpers for reports: every aggregation runs in the database (a report over a million
 * records must not pull them into the gateway), and each group's sample of record ids comes from
 * a window function in the same scan.
 */

/** The period and the local clock the report is read in (the company's, e.g. +08:00). */
export interface Period {
  readonly from: Date;
  readonly to: Date;
  /** "+08:00": hours of the day and days are counted in this offset from UTC. */
  readonly utcOffset: string;
}

/**
 * The period a report is asked for (CLI flags or admin-plane query): `from`/`to` as dates or
 * times, by default the `days` before `to`, which defaults to `now`. A string says what is wrong.
 */
export function reportPeriod(from: string | undefined, to: string | undefined, days: number, now: Date): { from: Date; to: Date } | 'not a date' | 'from after to' {
  const end = to ? new Date(to) : now;
  const start = from ? new Date(from) : new Date(end.getTime() - days * 86400_000);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) return 'not a date';
  return start >= end ? 'from after to' : { from: start, to: end };
}

/** "+08:00": an offset from UTC as reports take it. */
export function isUtcOffset(text: string): boolean {
  return /^[+-]\d{2}:\d{2}$/.test(text);
}

/** `occurred_at` as local wall-clock time for the period's offset (no time-zone database needed). */
export const LOCAL_TIME = "(occurred_at AT TIME ZONE 'UTC' + $3::interval)";

export function periodParams(period: Period): [string, string, string] {
  return [period.from.toISOString(), period.to.toISOString(), period.utcOffset.replace(/^\+/, '')];
}

type Row = Record<string, unknown>;

/**
 * Grouped counts with up to `sample` record ids per group, newest first. `keys` are SQL
 * expressions named k0, k1…; `measures` are extra aggregates over the group (named as given).
 */
export async function groupedWithRecords(
  db: Db,
  options: {
    readonly from: string;
    readonly where: string;
    readonly params: readonly unknown[];
    readonly keys: readonly string[];
    readonly measures?: readonly string[];
    readonly idColumn?: string;
    readonly orderBy?: string;
    readonly limit?: number;
    readonly sample?: number;
  },
): Promise<{ keys: string[]; n: number; extra: Row; records: RecordRefs }[]> {
  const keyList = options.keys.map((k, i) => `${k} AS k${i}`).join(', ');
  const keyNames = options.keys.map((_, i) => `k${i}`).join(', ');
  const id = options.idColumn ?? 'request_id';
  const sample = options.sample ?? 5;
  const measures = options.measures?.length ? `, ${options.measures.join(', ')}` : '';
  const sql = `
    WITH base AS (SELECT ${keyList}, ${id} AS record_id, occurred_at, subjects FROM ${options.from} WHERE ${options.where}),
    ranked AS (SELECT *, row_number() OVER (PARTITION BY ${keyNames} ORDER BY occurred_at DESC) AS rn FROM base)
    SELECT ${keyNames}, count(*)::int AS n${measures},
           array_remove(array_agg(CASE WHEN rn <= ${sample} THEN record_id END ORDER BY rn), NULL) AS ids
    FROM ranked GROUP BY ${keyNames}
    ORDER BY ${options.orderBy ?? 'n DESC'}${options.limit ? ` LIMIT ${options.limit}` : ''}`;
  const { rows } = await db.query<Row>(sql, [...options.params]);
  return rows.map((r) => {
    const ids = ((r.ids as (string | null)[] | null) ?? []).filter((x): x is string => typeof x === 'string');
    const n = Number(r.n);
    const extra: Row = {};
    for (const [k, v] of Object.entries(r)) if (!/^k\d+$/.test(k) && k !== 'n' && k !== 'ids') extra[k] = v;
    return { keys: options.keys.map((_, i) => String(r[`k${i}`] ?? '—')), n, extra, records: { ids, more: Math.max(0, n - ids.length) } };
  });
}
