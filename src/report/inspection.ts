import type { KeyObject } from 'node:crypto';
import { verifyDatabase } from '../audit/verify.js';
import { endOfDayEpoch } from '../config/build-auth.js';
import type { Config } from '../config/types.js';
import type { Db } from '../store/db.js';
import { type Cell, label, type RecordRefs, type Report, type ReportSection, type ReportTable } from './model.js';
import { groupedWithRecords, LOCAL_TIME, type Period, periodParams } from './queries.js';

/**
 * The periodic inspection the protection policy gives the supervision group (ch. 10): who read
 * what, for which purpose, what was refused and why, what was released in clear, shared with
 * partners, objected to and destroyed — each section with the rule it checks and the records
 * behind each finding. Aggregated in SQL over the audit store and the governance tables.
 */
export async function inspectionReport(db: Db, config: Config, period: Period, options: { checkpointKey?: KeyObject; now?: Date } = {}): Promise<Report> {
  const params = periodParams(period);
  const inPeriod = 'occurred_at >= $1 AND occurred_at < $2 AND $3::interval IS NOT NULL';
  const now = options.now ?? new Date();
  const sections: ReportSection[] = [
    await accessesOverTime(db, params, inPeriod),
    await accessesByRole(db, params, inPeriod),
    await refusals(db, params, inPeriod),
    await clearReleases(db, params, inPeriod),
    await topCallers(db, params, inPeriod),
    await applications(db, params, inPeriod),
    await offHours(db, params, inPeriod),
    await bulkGuard(db, params, inPeriod),
    await partnerProvisions(db, params, inPeriod),
    await objections(db, period, now),
    await destructions(db, period),
    purposeReviews(config, now),
    await lapsedAttestations(db, params, inPeriod),
    await chainStatus(db, options.checkpointKey),
  ];
  return {
    kind: 'inspection',
    title: label('客户信息保护检查报告', 'Customer information protection inspection report'),
    period: { from: period.from.toISOString(), to: period.to.toISOString(), utcOffset: period.utcOffset },
    generatedAt: now.toISOString(),
    policyVersion: config.digest.slice(0, 12),
    sections,
  };
}

const refs = (rows: readonly { records: RecordRefs }[]) => rows.map((r) => r.records);

/** A table of grouped counts: one column per grouping key, then the count; the records behind each row. */
const groupedTable = (columns: ReportTable['columns'], rows: readonly { keys: readonly string[]; n: number; records: RecordRefs }[]): ReportTable => ({
  columns,
  rows: rows.map((r) => [...r.keys, r.n]),
  records: refs(rows),
});

async function accessesOverTime(db: Db, params: readonly string[], inPeriod: string): Promise<ReportSection> {
  const { rows } = await db.query<{ day: string; purpose: string | null; n: number }>(
    `SELECT to_char(${LOCAL_TIME}, 'YYYY-MM-DD') AS day, purpose, count(*)::int AS n
     FROM audit_events WHERE type = 'decision' AND decision <> 'deny' AND ${inPeriod} GROUP BY 1, 2 ORDER BY 1, 2`,
    [...params],
  );
  const days = [...new Set(rows.map((r) => r.day))].sort();
  const purposes = [...new Set(rows.map((r) => r.purpose ?? '—'))].sort();
  const series = purposes.map((p) => ({ name: p, values: days.map((d) => rows.find((r) => r.day === d && (r.purpose ?? '—') === p)?.n ?? 0) }));
  const total = rows.reduce((n, r) => n + Number(r.n), 0);
  return {
    id: 'accesses',
    title: label('按目的统计的访问量', 'Accesses over time, by purpose'),
    rule: label('每次访问须声明目的并记录（第4、12章）', 'Every access declares a purpose and is recorded (ch. 4, 12)'),
    status: 'info',
    summary: label(`期间共放行 ${total} 次访问`, `${total} accesses allowed in the period`),
    charts: [{ kind: 'timeline', title: label('每日访问量（按目的）', 'Accesses per day by purpose'), days, series }],
    table: { columns: [label('目的', 'Purpose'), label('访问次数', 'Accesses')], rows: series.map((s) => [s.name, s.values.reduce((a, b) => a + b, 0)]) },
  };
}

async function accessesByRole(db: Db, params: readonly string[], inPeriod: string): Promise<ReportSection> {
  // Roles live inside the record; a regular expression on its text is far cheaper than parsing
  // a million records as JSON.
  const { rows } = await db.query<{ role: string; n: number }>(
    `SELECT role, count(*)::int AS n FROM (
       SELECT unnest(string_to_array(replace(substring(record_text from '"roles":\\[([^\\]]*)\\]'), '"', ''), ',')) AS role
       FROM audit_events WHERE type = 'decision' AND decision <> 'deny' AND ${inPeriod}) r
     WHERE role <> '' GROUP BY role ORDER BY n DESC, role`,
    [...params],
  );
  return {
    id: 'roles',
    title: label('按角色统计的访问量', 'Accesses by role'),
    rule: label('按岗位授权，最小必要（第5章）', 'Access by role, minimum necessary (ch. 5)'),
    status: 'info',
    summary: label(`${rows.length} 个角色有访问`, `${rows.length} roles accessed customer data`),
    charts: [{ kind: 'bars', title: label('各角色访问量', 'Accesses per role'), bars: rows.map((r) => ({ label: r.role, value: Number(r.n) })) }],
    table: { columns: [label('角色', 'Role'), label('访问次数', 'Accesses')], rows: rows.map((r) => [r.role, Number(r.n)]) },
  };
}

async function refusals(db: Db, params: readonly string[], inPeriod: string): Promise<ReportSection> {
  const rows = await groupedWithRecords(db, { from: 'audit_events', where: `type = 'decision' AND decision = 'deny' AND ${inPeriod}`, params, keys: ['reason'] });
  const total = rows.reduce((n, r) => n + r.n, 0);
  return {
    id: 'refusals',
    title: label('拒绝访问（按原因）', 'Refusals by reason'),
    rule: label('未经授权、目的不符或超出范围的访问一律拒绝', 'Unauthorised, off-purpose or out-of-scope access is refused'),
    status: total > 0 ? 'attention' : 'ok',
    summary: label(`共拒绝 ${total} 次`, `${total} requests refused`),
    charts: [{ kind: 'bars', title: label('拒绝原因', 'Refusal reasons'), bars: rows.map((r) => ({ label: r.keys[0] as string, value: r.n })) }],
    table: groupedTable([label('原因', 'Reason'), label('次数', 'Count')], rows),
  };
}

async function clearReleases(db: Db, params: readonly string[], inPeriod: string): Promise<ReportSection> {
  // revealedClasses is sorted, so C2 comes first when it is there.
  const rows = await groupedWithRecords(db, {
    from: 'audit_events',
    where: `type = 'completion' AND record_text LIKE '%"revealedClasses":["C2"%' AND ${inPeriod}`,
    params,
    keys: ['caller_sub', 'purpose'],
  });
  return {
    id: 'clear-c2',
    title: label('未脱敏释放的C2信息', 'C2 values released unmasked'),
    rule: label('个人敏感信息默认脱敏，明文须经目的批准（第6章）', 'C2 data is masked unless an approved purpose needs it in clear (ch. 6)'),
    status: rows.length > 0 ? 'attention' : 'ok',
    summary: label(`${rows.length} 个调用方与目的组合收到明文C2信息`, `${rows.length} caller/purpose pairs received C2 values in clear`),
    charts: [{ kind: 'bars', title: label('明文C2释放（按调用方）', 'Clear C2 releases by caller'), bars: rows.map((r) => ({ label: `${r.keys[0]} · ${r.keys[1]}`, value: r.n })) }],
    table: groupedTable([label('调用方', 'Caller'), label('目的', 'Purpose'), label('响应数', 'Responses')], rows),
  };
}

async function applications(db: Db, params: readonly string[], inPeriod: string): Promise<ReportSection> {
  const rows = await groupedWithRecords(db, {
    from: 'audit_events',
    where: `type = 'decision' AND caller_app IS NOT NULL AND ${inPeriod}`,
    params,
    keys: ['caller_app', 'purpose', "CASE WHEN decision = 'deny' THEN 'refused' ELSE 'allowed' END"],
    orderBy: 'k0, k1, k2',
  });
  const refused = rows.filter((r) => r.keys[2] === 'refused').reduce((n, r) => n + r.n, 0);
  const names = new Set(rows.map((r) => r.keys[0]));
  return {
    id: 'applications',
    title: label('经业务系统的访问', 'Accesses through applications'),
    rule: label('既有业务系统只能以其登记的目的访问，并记明实际操作人（第4、5章）', 'An existing application accesses only for the purposes registered for it, and names the person acting (ch. 4, 5)'),
    status: refused > 0 ? 'attention' : 'info',
    summary: label(`${names.size} 个业务系统，拒绝 ${refused} 次`, `${names.size} applications, ${refused} requests refused`),
    charts: [{ kind: 'bars', title: label('各业务系统访问量', 'Accesses per application'), bars: rows.map((r) => ({ label: `${r.keys[0]} · ${r.keys[1]} · ${r.keys[2]}`, value: r.n })) }],
    table: groupedTable([label('业务系统', 'Application'), label('目的', 'Purpose'), label('结果', 'Outcome'), label('次数', 'Count')], rows),
  };
}

async function topCallers(db: Db, params: readonly string[], inPeriod: string): Promise<ReportSection> {
  const { rows } = await db.query<{ caller: string; kind: string | null; customers: number; requests: number }>(
    `SELECT caller_sub AS caller, max(caller_kind) AS kind, count(DISTINCT s)::int AS customers, count(DISTINCT request_id)::int AS requests
     FROM audit_events, unnest(subjects) AS s
     WHERE type = 'decision' AND decision <> 'deny' AND caller_sub IS NOT NULL AND ${inPeriod}
     GROUP BY caller_sub ORDER BY customers DESC, caller LIMIT 20`,
    [...params],
  );
  return {
    id: 'top-callers',
    title: label('接触客户最多的调用方', 'Top callers by distinct customers'),
    rule: label('批量查询须有业务需要（第9章 批量访问监测）', 'Bulk access needs a business reason (ch. 9, bulk-access monitoring)'),
    status: 'info',
    summary: label(`前 ${rows.length} 名调用方`, `Top ${rows.length} callers`),
    charts: [{ kind: 'bars', title: label('不同客户数', 'Distinct customers'), bars: rows.map((r) => ({ label: r.caller, value: Number(r.customers) })) }],
    table: { columns: [label('调用方', 'Caller'), label('类型', 'Kind'), label('不同客户数', 'Distinct customers'), label('请求数', 'Requests')], rows: rows.map((r) => [r.caller, r.kind ?? '—', Number(r.customers), Number(r.requests)]) },
  };
}

async function offHours(db: Db, params: readonly string[], inPeriod: string): Promise<ReportSection> {
  const rows = await groupedWithRecords(db, {
    from: 'audit_events',
    where: `type = 'decision' AND decision <> 'deny' AND ${inPeriod} AND (extract(hour FROM ${LOCAL_TIME}) < 8 OR extract(hour FROM ${LOCAL_TIME}) >= 20 OR extract(isodow FROM ${LOCAL_TIME}) >= 6)`,
    params,
    keys: ['caller_sub', 'purpose'],
  });
  return {
    id: 'off-hours',
    title: label('非工作时间访问', 'Off-hours access'),
    rule: label('工作日 08:00–20:00 以外的访问须有合理解释', 'Access outside working hours (weekdays 08:00–20:00, local time) must be explained'),
    status: rows.length > 0 ? 'attention' : 'ok',
    summary: label(`${rows.reduce((n, r) => n + r.n, 0)} 次非工作时间访问`, `${rows.reduce((n, r) => n + r.n, 0)} accesses off hours`),
    charts: [],
    table: groupedTable([label('调用方', 'Caller'), label('目的', 'Purpose'), label('次数', 'Count')], rows),
  };
}

async function bulkGuard(db: Db, params: readonly string[], inPeriod: string): Promise<ReportSection> {
  const rows = await groupedWithRecords(db, {
    from: 'audit_events',
    where: `((type = 'decision' AND reason = 'CUSTODIAN_BULK_LIMIT') OR (type = 'completion' AND record_text LIKE '%"bulkAlert":%')) AND ${inPeriod}`,
    params,
    keys: ['caller_sub', 'purpose', "CASE WHEN type = 'decision' THEN 'refused' ELSE 'alert' END"],
  });
  return {
    id: 'bulk',
    title: label('批量访问告警与拒绝', 'Bulk-guard alerts and refusals'),
    rule: label('单一调用方在时间窗内接触的客户数不得超过目的限额（第9章）', 'A caller may not touch more customers in a window than the purpose allows (ch. 9)'),
    status: rows.length > 0 ? 'attention' : 'ok',
    summary: label(`${rows.length} 项`, `${rows.length} findings`),
    charts: [],
    table: groupedTable([label('调用方', 'Caller'), label('目的', 'Purpose'), label('类型', 'Kind'), label('次数', 'Count')], rows),
  };
}

async function partnerProvisions(db: Db, params: readonly string[], inPeriod: string): Promise<ReportSection> {
  const rows = await groupedWithRecords(db, {
    from: 'audit_events',
    where: `type = 'decision' AND decision = 'allow' AND caller_kind = 'partner' AND ${inPeriod}`,
    params,
    keys: ['caller_org', 'purpose'],
    measures: ['count(DISTINCT subjects)::int AS customer_sets'],
  });
  return {
    id: 'partners',
    title: label('向合作方提供的信息', 'Provisions to partners'),
    rule: label('对外提供须有合同、同意和范围限定；记录保存不少于3年（《网络数据安全管理条例》第12条）', 'Provision to third parties needs a contract, consent and a fixed scope; records kept ≥ 3 years (Network Data Security Regulations art. 12)'),
    status: 'info',
    summary: label(`${rows.reduce((n, r) => n + r.n, 0)} 次提供`, `${rows.reduce((n, r) => n + r.n, 0)} provisions`),
    charts: [{ kind: 'bars', title: label('各合作方提供次数', 'Provisions per partner'), bars: rows.map((r) => ({ label: `${r.keys[0]} · ${r.keys[1]}`, value: r.n })) }],
    table: groupedTable([label('合作方', 'Partner'), label('目的', 'Purpose'), label('次数', 'Provisions')], rows),
  };
}

async function objections(db: Db, period: Period, now: Date): Promise<ReportSection> {
  const { rows } = await db.query<{ id: string; created_at: Date | string; due_at: Date | string | null; status: string; answered_at: Date | string | null; lifted_at: Date | string | null }>(
    `SELECT id, created_at, due_at, status, answered_at, lifted_at FROM restrictions
     WHERE kind = 'objection' AND created_at >= $1 AND created_at < $2 ORDER BY created_at`,
    [period.from.toISOString(), period.to.toISOString()],
  );
  const days = (a: Date | string, b: Date | string) => Math.round(((new Date(b).getTime() - new Date(a).getTime()) / 86400_000) * 10) / 10;
  const overdue = rows.filter((r) => r.status === 'open' && r.due_at !== null && new Date(r.due_at) < now);
  const answered = rows.filter((r) => r.answered_at !== null);
  const times = answered.map((r) => days(r.created_at, r.answered_at as Date));
  const status = (r: (typeof rows)[number]) => (r.status === 'answered' ? '已答复 answered' : overdue.includes(r) ? '逾期 overdue' : '处理中 open');
  return {
    id: 'objections',
    title: label('客户异议处理', 'Customer objections'),
    rule: label('异议须在20日内书面答复（《征信业管理条例》第25条）', 'Objections are answered in writing within 20 days (Credit Reporting Regulations art. 25)'),
    status: overdue.length > 0 ? 'attention' : 'ok',
    summary: label(
      `受理 ${rows.length}，已答复 ${answered.length}，逾期 ${overdue.length}${times.length ? `，平均 ${(times.reduce((a, b) => a + b, 0) / times.length).toFixed(1)} 天` : ''}`,
      `${rows.length} opened, ${answered.length} answered, ${overdue.length} overdue${times.length ? `, ${(times.reduce((a, b) => a + b, 0) / times.length).toFixed(1)} days on average` : ''}`,
    ),
    charts: [],
    table: {
      columns: [label('编号', 'Id'), label('受理时间', 'Opened'), label('答复期限', 'Due'), label('状态', 'Status'), label('答复用时（天）', 'Days to answer')],
      rows: rows.map((r) => [r.id, iso(r.created_at), r.due_at ? iso(r.due_at) : '—', status(r), r.answered_at ? days(r.created_at, r.answered_at) : '—']),
    },
  };
}

async function destructions(db: Db, period: Period): Promise<ReportSection> {
  const { rows } = await db.query<{ id: string; at: Date | string; requester: string; approver: string; method: string; object: string; outcome: string; request_id: string }>(
    'SELECT id, at, requester, approver, method, object, outcome, request_id FROM destruction_ledger WHERE at >= $1 AND at < $2 ORDER BY at',
    [period.from.toISOString(), period.to.toISOString()],
  );
  return {
    id: 'destructions',
    title: label('信息销毁记录', 'Destructions'),
    rule: label('销毁须经第二人批准并留痕（第8章）', 'Destruction needs a second person\'s approval and leaves a record (ch. 8)'),
    status: 'info',
    summary: label(`${rows.length} 次销毁`, `${rows.length} destructions`),
    charts: [],
    table: {
      columns: [label('时间', 'Time'), label('申请人', 'Requester'), label('批准人', 'Approver'), label('对象', 'Object'), label('结果', 'Outcome')],
      rows: rows.map((r) => [iso(r.at), r.requester, r.approver, `${r.method} ${r.object}`, r.outcome]),
      records: rows.map((r) => ({ ids: [r.request_id], more: 0 })),
    },
  };
}

function purposeReviews(config: Config, now: Date): ReportSection {
  const nowSec = now.getTime() / 1000;
  const rows: Cell[][] = config.purposes
    .map((p) => ({ p, left: Math.floor((endOfDayEpoch(p.reviewUntil) - nowSec) / 86400) }))
    .filter(({ left }) => left < 60)
    .map(({ p, left }) => [p.id, p.reviewUntil, p.approvedBy, left < 0 ? '已过期 expired' : `${left} 天 days`]);
  return {
    id: 'reviews',
    title: label('即将到期的目的审查', 'Purpose reviews expiring'),
    rule: label('每个使用目的须经信息保护负责人定期审查（第4章）', 'Each purpose is reviewed by the information-protection officer periodically (ch. 4)'),
    status: rows.length > 0 ? 'attention' : 'ok',
    summary: label(`${rows.length} 个目的的审查在60天内到期或已过期`, `${rows.length} purpose reviews expire within 60 days or have expired`),
    charts: [],
    table: { columns: [label('目的', 'Purpose'), label('审查截止', 'Review until'), label('批准人', 'Approved by'), label('剩余', 'Left')], rows },
  };
}

async function lapsedAttestations(db: Db, params: readonly string[], inPeriod: string): Promise<ReportSection> {
  const rows = await groupedWithRecords(db, {
    from: 'audit_events',
    where: `type = 'decision' AND reason = 'CUSTODIAN_ATTESTATION_LAPSED' AND ${inPeriod}`,
    params,
    keys: ['caller_sub', 'purpose'],
  });
  return {
    id: 'attestations',
    title: label('培训或保密承诺失效的访问尝试', 'Access attempts with lapsed attestations'),
    rule: label('接触客户信息的人员须完成培训并签署保密承诺（第11章）', 'Staff handling customer data hold current training and NDA attestations (ch. 11)'),
    status: rows.length > 0 ? 'attention' : 'ok',
    summary: label(`${rows.length} 名人员的培训或承诺已失效`, `${rows.length} callers with lapsed attestations`),
    charts: [],
    table: groupedTable([label('调用方', 'Caller'), label('目的', 'Purpose'), label('被拒次数', 'Refusals')], rows),
  };
}

async function chainStatus(db: Db, checkpointKey: KeyObject | undefined): Promise<ReportSection> {
  const reports = await verifyDatabase(db, checkpointKey);
  const broken = reports.filter((r) => r.firstProblem || r.badCheckpoints.length > 0);
  return {
    id: 'chain',
    title: label('审计链校验', 'Audit chain verification'),
    rule: label('访问记录不可篡改：哈希链与签名检查点（第12章）', 'Access records are tamper-evident: hash chain and signed checkpoints (ch. 12)'),
    status: broken.length > 0 ? 'attention' : 'ok',
    summary: label(broken.length > 0 ? `${broken.length} 条链校验失败` : `${reports.length} 条链全部校验通过`, broken.length > 0 ? `${broken.length} chains fail verification` : `all ${reports.length} chains verify`),
    charts: [],
    table: {
      columns: [label('实例', 'Instance'), label('记录数', 'Records'), label('检查点', 'Checkpoints'), label('未封存', 'Unsealed'), label('结果', 'Result')],
      rows: reports.map((r) => [r.instance, r.records, r.checkpoints, r.unsealed, r.firstProblem ? `失败 FAILED: ${r.firstProblem.problem}` : r.badCheckpoints.length ? '检查点签名无效 bad checkpoint' : '通过 OK']),
    },
  };
}

function iso(t: Date | string): string {
  return new Date(t).toISOString().slice(0, 16).replace('T', ' ');
}
