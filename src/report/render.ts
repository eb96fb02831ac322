import type { Cell, Label, RecordRefs, Report, ReportSection } from './model.js';
import { chartSvg, escapeXml } from './svg.js';

/** A report in one of the formats `custodian report` writes. */
export type ReportFormat = 'html' | 'md' | 'csv' | 'json';

/** Each format's media type (the admin plane serves reports in any of them). */
export const CONTENT_TYPES: Readonly<Record<ReportFormat, string>> = {
  html: 'text/html; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

export function isReportFormat(text: string): text is ReportFormat {
  return Object.hasOwn(CONTENT_TYPES, text);
}

export function renderReport(report: Report, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'md':
      return markdown(report);
    case 'csv':
      return csv(report);
    case 'html':
      return html(report);
  }
}

const both = (l: Label) => `${l.zh} ${l.en}`;
const STATUS: Record<ReportSection['status'], Label> = {
  ok: { zh: '符合', en: 'OK' },
  attention: { zh: '需关注', en: 'Attention' },
  info: { zh: '信息', en: 'Info' },
};

function recordsText(r: RecordRefs | undefined): string {
  if (!r || r.ids.length === 0) return '';
  return `${r.ids.join(' ')}${r.more > 0 ? ` (+${r.more})` : ''}`;
}

function withRecords(section: ReportSection): { columns: string[]; rows: Cell[][] } {
  const { table } = section;
  const columns = table.columns.map(both);
  if (!table.records) return { columns, rows: table.rows.map((r) => [...r]) };
  return { columns: [...columns, '记录 Records'], rows: table.rows.map((r, i) => [...r, recordsText(table.records?.[i])]) };
}

function markdown(report: Report): string {
  const out: string[] = [`# ${report.title.zh}`, `## ${report.title.en}`, ''];
  out.push(`- 期间 Period: ${report.period.from} – ${report.period.to} (UTC${report.period.utcOffset} local time)`);
  out.push(`- 生成时间 Generated: ${report.generatedAt}`);
  out.push(`- 策略版本 Policy version: ${report.policyVersion}`, '');
  for (const s of report.sections) {
    out.push(`### ${both(s.title)}`, '');
    out.push(`**${both(STATUS[s.status])}** — ${s.summary.zh} / ${s.summary.en}`, '');
    out.push(`规则 Rule: ${s.rule.zh} / ${s.rule.en}`, '');
    const { columns, rows } = withRecords(s);
    if (rows.length === 0) {
      out.push('无记录 No records.', '');
      continue;
    }
    out.push(`| ${columns.join(' | ')} |`, `|${columns.map(() => '---').join('|')}|`);
    for (const row of rows) out.push(`| ${row.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

function csvCell(c: Cell): string {
  const s = String(c);
  // A leading = + - @ would be a formula to a spreadsheet: quote it as text.
  const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
  return /[",\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** One CSV table: section, then the section's own columns (a spreadsheet filters by section). */
function csv(report: Report): string {
  const lines: string[] = [];
  for (const s of report.sections) {
    const { columns, rows } = withRecords(s);
    lines.push(['section', 'status', ...columns].map(csvCell).join(','));
    for (const row of rows) lines.push([s.id, s.status, ...row].map(csvCell).join(','));
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

const esc = escapeXml;

function html(report: Report): string {
  const sections = report.sections
    .map((s) => {
      const { columns, rows } = withRecords(s);
      const table =
        rows.length === 0
          ? '<p class="empty">无记录 No records.</p>'
          : `<table><thead><tr>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows
              .map((r) => `<tr>${r.map((c, i) => `<td${i === r.length - 1 && s.table.records ? ' class="records"' : ''}>${esc(String(c))}</td>`).join('')}</tr>`)
              .join('')}</tbody></table>`;
      const charts = s.charts.map((c) => `<figure class="chart" data-chart="${esc(s.id)}"><figcaption>${esc(both(c.title))}</figcaption>${chartSvg(c)}</figure>`).join('');
      return `<section id="${esc(s.id)}" class="${s.status}"><h2>${esc(s.title.zh)} <span class="en">${esc(s.title.en)}</span></h2>
<p class="status"><span class="badge ${s.status}">${esc(both(STATUS[s.status]))}</span> ${esc(s.summary.zh)} <span class="en">${esc(s.summary.en)}</span></p>
<p class="rule">规则 <span class="en">Rule</span>: ${esc(s.rule.zh)} <span class="en">${esc(s.rule.en)}</span></p>
${charts}${table}</section>`;
    })
    .join('\n');
  const attention = report.sections.filter((s) => s.status === 'attention');
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${esc(report.title.zh)} — ${esc(report.title.en)}</title>
<style>
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;margin:2em auto;max-width:980px;color:#1f2328;line-height:1.45}
h1{font-size:1.6em;margin-bottom:0}h1 .en,h2 .en,.en{color:#57606a;font-weight:normal}
h2{font-size:1.2em;border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.85em;margin:.6em 0}th,td{border:1px solid #d0d7de;padding:.25em .45em;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.records{font-family:monospace;font-size:.8em;color:#57606a;word-break:break-all}
.badge{display:inline-block;padding:0 .5em;border-radius:1em;font-size:.85em}.badge.ok{background:#dafbe1}.badge.attention{background:#ffebe9}.badge.info{background:#ddf4ff}
.rule{font-size:.9em;color:#57606a}figure{margin:.6em 0}figcaption{font-size:.85em;color:#57606a}svg .axis{font-size:11px;fill:#57606a}
.meta{color:#57606a;font-size:.9em}
@media print{body{margin:0;max-width:none}section{break-inside:avoid-page}h2{break-after:avoid}a{color:inherit}}
</style></head><body>
<h1>${esc(report.title.zh)}<br><span class="en">${esc(report.title.en)}</span></h1>
<p class="meta">期间 <span class="en">Period</span>: ${esc(report.period.from)} – ${esc(report.period.to)} (UTC${esc(report.period.utcOffset)})<br>
生成时间 <span class="en">Generated</span>: ${esc(report.generatedAt)} · 策略版本 <span class="en">Policy version</span>: ${esc(report.policyVersion)}<br>
需关注 <span class="en">Needing attention</span>: ${attention.length === 0 ? '无 none' : attention.map((s) => `<a href="#${esc(s.id)}">${esc(s.title.zh)}</a>`).join('、')}</p>
${sections}
</body></html>
`;
}
