// A small static SVG line chart of time series, attached to each scenario
// test so the victim's measurements over time show in the reports.
import type { Series } from '../scenarios/framework/types.js';

const WIDTH = 640;
const HEIGHT = 240;
const MARGIN = { left: 56, right: 16, top: 24, bottom: 36 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' }[c]!));
}

/** Renders named series (ms, value) as one SVG chart with a legend. */
export function renderChart(title: string, series: Record<string, Series>, unit = ''): string {
  const entries = Object.entries(series).filter(([, points]) => points.length > 0);
  const all = entries.flatMap(([, points]) => points);
  const maxX = Math.max(1, ...all.map(([x]) => x));
  const maxY = Math.max(1e-9, ...all.map(([, y]) => y));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + (x / maxX) * plotW;
  const sy = (y: number) => MARGIN.top + plotH - (y / maxY) * plotH;

  const lines = entries.map(([name, points], i) => {
    const d = points.map(([x, y], j) => `${j ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    const color = COLORS[i % COLORS.length];
    const legendY = MARGIN.top + 14 * i;
    return `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>` +
      `<text x="${WIDTH - MARGIN.right - 4}" y="${legendY + 10}" text-anchor="end" fill="${color}" font-size="11">${escapeXml(name)}</text>`;
  });
  const axes = [
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${MARGIN.left + plotW}" y2="${MARGIN.top + plotH}" stroke="#444"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotH}" stroke="#444"/>`,
    `<text x="${MARGIN.left}" y="${HEIGHT - 8}" font-size="11">0 ms</text>`,
    `<text x="${MARGIN.left + plotW}" y="${HEIGHT - 8}" font-size="11" text-anchor="end">${Math.round(maxX)} ms</text>`,
    `<text x="${MARGIN.left - 4}" y="${MARGIN.top + 4}" font-size="11" text-anchor="end">${formatNumber(maxY)}${escapeXml(unit)}</text>`,
    `<text x="${MARGIN.left - 4}" y="${MARGIN.top + plotH}" font-size="11" text-anchor="end">0</text>`,
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="${MARGIN.left}" y="16" font-size="13">${escapeXml(title)}</text>` +
    `${axes.join('')}${lines.join('')}</svg>\n`;
}

function formatNumber(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(n < 10 ? 2 : 0);
}
