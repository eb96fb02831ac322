import type { Chart } from './model.js';

/**
 * Charts as inline SVG: no script, no external asset, prints to PDF as drawn. Every data point is
 * an element with class `point` and its value in `data-value` (a test counts them).
 */

const PALETTE = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0969da', '#57606a'];

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export function chartSvg(chart: Chart): string {
  return chart.kind === 'bars' ? barsSvg(chart) : timelineSvg(chart);
}

/** Horizontal bars, one per label, longest first as given. */
function barsSvg(chart: Extract<Chart, { kind: 'bars' }>): string {
  const bars = chart.bars.slice(0, 20);
  const rowHeight = 22;
  const labelWidth = 220;
  const width = 720;
  const plot = width - labelWidth - 60;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const height = Math.max(1, bars.length) * rowHeight + 10;
  const rows = bars.map((b, i) => {
    const y = 5 + i * rowHeight;
    const w = Math.max(1, Math.round((b.value / max) * plot));
    return (
      `<text x="${labelWidth - 6}" y="${y + 15}" text-anchor="end" class="axis">${escapeXml(b.label.slice(0, 40))}</text>` +
      `<rect class="point" data-value="${b.value}" x="${labelWidth}" y="${y + 3}" width="${w}" height="${rowHeight - 6}" fill="${PALETTE[0]}"><title>${escapeXml(`${b.label}: ${b.value}`)}</title></rect>` +
      `<text x="${labelWidth + w + 4}" y="${y + 15}" class="axis">${b.value}</text>`
    );
  });
  const empty = bars.length === 0 ? `<text x="${labelWidth}" y="18" class="axis">无数据 no data</text>` : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${rows.join('')}${empty}</svg>`;
}

/** Stacked columns per day, one colour per series, with a legend. */
function timelineSvg(chart: Extract<Chart, { kind: 'timeline' }>): string {
  const width = 720;
  const height = 240;
  const left = 50;
  const bottom = 40;
  const top = 10;
  const plotW = width - left - 10;
  const plotH = height - bottom - top;
  const days = chart.days;
  const totals = days.map((_, i) => chart.series.reduce((n, s) => n + (s.values[i] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(2, Math.min(40, slot * 0.7));
  const parts: string[] = [];
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#888"/>`);
  parts.push(`<text x="${left - 6}" y="${top + 10}" text-anchor="end" class="axis">${max}</text><text x="${left - 6}" y="${top + plotH}" text-anchor="end" class="axis">0</text>`);
  days.forEach((day, i) => {
    let y = top + plotH;
    const x = left + i * slot + (slot - barW) / 2;
    chart.series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      if (v === 0) return;
      const h = (v / max) * plotH;
      y -= h;
      parts.push(`<rect class="point" data-value="${v}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[k % PALETTE.length]}"><title>${escapeXml(`${day} ${s.name}: ${v}`)}</title></rect>`);
    });
    if (days.length <= 16 || i % Math.ceil(days.length / 16) === 0) {
      parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${top + plotH + 14}" text-anchor="middle" class="axis">${escapeXml(day.slice(5))}</text>`);
    }
  });
  chart.series.forEach((s, k) => {
    const x = left + (k % 4) * 170;
    const y = height - 14 + Math.floor(k / 4) * 0;
    parts.push(`<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${PALETTE[k % PALETTE.length]}"/><text x="${x + 14}" y="${y}" class="axis">${escapeXml(s.name)}</text>`);
  });
  if (days.length === 0) parts.push(`<text x="${left + 10}" y="${top + 20}" class="axis">无数据 no data</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${parts.join('')}</svg>`;
}
