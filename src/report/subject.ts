import type { Config } from '../config/types.js';
import { listConsents } from '../governance/consents.js';
import { listRestrictions } from '../governance/restrictions.js';
import { type SubjectAccess, subjectHistory } from '../store/audit-store.js';
import type { Db } from '../store/db.js';
import { label, type Report, type ReportSection } from './model.js';

/**
 * "Who saw my data" — the document the information-protection officer hands to a customer
 * (PIPL art. 45; 征信业管理条例 art. 25): who, by role and organisation (never a staff member's
 * id), read which kinds of information, when and for which purpose; what was provided to which
 * third party under which consent; the consents and objections on file with their answers.
 */
export async function subjectReport(db: Db, config: Config, customerId: string, period: { from: Date; to: Date }, now = new Date()): Promise<Report> {
  const history = (await subjectHistory(db, customerId, period.from, period.to, config.masking)).filter((a) => a.decision !== 'deny');
  const consents = await listConsents(db, customerId);
  const objections = await listRestrictions(db, customerId);
  const partnerIds = new Set(config.partners.keys());
  const isThirdParty = (a: SubjectAccess) => a.kind === 'partner' || (a.organisation !== undefined && partnerIds.has(a.organisation));
  const partnerName = (org: string | undefined) => (org ? (config.partners.get(org)?.name ?? org) : '—');
  const purposeName = (id: string | null) => config.purposes.find((p) => p.id === id)?.description ?? id ?? '—';
  // The application a person worked through (clients), by the name the policy gives it.
  const via = (a: SubjectAccess) => (a.application ? `（经 via ${config.clients.find((c) => c.id === a.application)?.name ?? a.application}）` : '');
  const who = (a: SubjectAccess) => (isThirdParty(a) ? `${partnerName(a.organisation)}` : `本公司 ${a.roles.join('、') || a.kind || 'staff'}${via(a)}`);
  const kinds = (a: SubjectAccess) => {
    if (!a.fields) return a.revealedClasses.length ? `明文 clear: ${a.revealedClasses.join(', ')}` : '—';
    const parts = [];
    if (a.fields.clear.length) parts.push(`明文 clear: ${a.fields.clear.join(', ')}`);
    if (a.fields.transformed.length) parts.push(`脱敏 masked: ${a.fields.transformed.join(', ')}`);
    return parts.join('; ') || '—';
  };
  const ownUse = history.filter((a) => !isThirdParty(a));
  const provided = history.filter(isThirdParty);
  const consentFor = (a: SubjectAccess) => {
    const at = Date.parse(a.time);
    const c = consents.find((c) => c.recipient === a.organisation && c.purpose === a.purpose && Date.parse(c.grantedAt) <= at + 60_000 && Date.parse(c.expiresAt) > at && (c.withdrawnAt === null || Date.parse(c.withdrawnAt) > at));
    return c ? `${c.evidence}（至 until ${c.expiresAt.slice(0, 10)}）` : '—';
  };
  const flagged = history.some((a) => a.ambiguous);
  const sections: ReportSection[] = [
    {
      id: 'accesses',
      title: label('本公司对您信息的访问', 'Access to your information within the company'),
      rule: label('仅为声明的目的、按岗位访问，并全部记录', 'Only for a declared purpose, by role, and every access recorded'),
      status: 'info',
      summary: label(`${ownUse.length} 次访问`, `${ownUse.length} accesses`),
      charts: [],
      table: {
        columns: [label('时间', 'Time'), label('访问者（岗位）', 'Who (role)'), label('目的', 'Purpose'), label('涉及信息', 'Information')],
        rows: ownUse.map((a) => [a.time.slice(0, 16).replace('T', ' '), who(a), purposeName(a.purpose), kinds(a)]),
      },
    },
    {
      id: 'provided',
      title: label('向第三方提供的信息', 'Information provided to third parties'),
      rule: label('对外提供须经您同意，并仅限同意的范围', 'Provided only with your consent and within what you consented to'),
      status: 'info',
      summary: label(`${provided.length} 次提供`, `${provided.length} provisions`),
      charts: [],
      table: {
        columns: [label('时间', 'Time'), label('接收方', 'Recipient'), label('目的', 'Purpose'), label('涉及信息', 'Information'), label('依据的同意', 'Consent relied on')],
        rows: provided.map((a) => [a.time.slice(0, 16).replace('T', ' '), who(a), purposeName(a.purpose), kinds(a), consentFor(a)]),
      },
    },
    {
      id: 'consents',
      title: label('您的同意记录', 'Your consents on file'),
      rule: label('同意可随时撤回，撤回后即停止提供', 'A consent can be withdrawn at any time; provision stops at once'),
      status: 'info',
      summary: label(`${consents.length} 项同意`, `${consents.length} consents`),
      charts: [],
      table: {
        columns: [label('接收方', 'Recipient'), label('目的', 'Purpose'), label('信息范围', 'Fields'), label('有效期至', 'Expires'), label('状态', 'Status')],
        rows: consents.map((c) => [c.recipient === 'self' ? '本公司 the company' : partnerName(c.recipient), purposeName(c.purpose), c.fields.join(', '), c.expiresAt.slice(0, 10), c.withdrawnAt ? `已撤回 withdrawn ${c.withdrawnAt.slice(0, 10)}` : Date.parse(c.expiresAt) < now.getTime() ? '已过期 expired' : '有效 live']),
      },
    },
    {
      id: 'objections',
      title: label('您的异议及答复', 'Your objections and our answers'),
      rule: label('异议在20日内书面答复', 'Objections are answered in writing within 20 days'),
      status: 'info',
      summary: label(`${objections.length} 项`, `${objections.length} on file`),
      charts: [],
      table: {
        columns: [label('提出时间', 'Raised'), label('类型', 'Kind'), label('状态', 'Status'), label('答复', 'Answer'), label('答复时间', 'Answered')],
        rows: objections.map((o) => [o.createdAt.slice(0, 10), o.kind === 'objection' ? '异议 objection' : '限制处理 restriction', o.liftedAt ? '已解除 lifted' : o.status === 'answered' ? '已答复 answered' : '处理中 open', o.reply ?? '—', o.answeredAt?.slice(0, 10) ?? '—']),
      },
    },
  ];
  return {
    kind: 'subject',
    title: label('个人信息访问情况说明', 'Who has seen your information'),
    period: { from: period.from.toISOString(), to: period.to.toISOString(), utcOffset: '+00:00' },
    generatedAt: now.toISOString(),
    policyVersion: config.digest.slice(0, 12),
    sections: flagged
      ? [
          ...sections,
          {
            id: 'note',
            title: label('说明', 'Note'),
            rule: label('部分记录仅按脱敏后的编号找到，可能属于其他客户，请人工核对', 'Some records were found only by the masked form of the id, which another customer may share: check them by hand'),
            status: 'attention',
            summary: label('需人工核对', 'Check by hand'),
            charts: [],
            table: { columns: [], rows: [] },
          },
        ]
      : sections,
  };
}
