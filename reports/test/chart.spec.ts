import { expect, test } from '@playwright/test';

import { renderChart } from '../chart.js';
import type { Series } from '../../scenarios/framework/types.js';

/** Returns the d attribute of every path, one per drawn series. */
function paths(svg: string): string[] {
  return [...svg.matchAll(/<path d="([^"]*)"/g)].map((match) => match[1]);
}

test('chart is one SVG document', () => {
  const svg = renderChart('forkbomb attack', { latency: [[0, 1], [100, 2]] });

  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  expect(svg).toContain('>forkbomb attack</text>');
});

test('chart draws a line per series', () => {
  const svg = renderChart('t', { latency: [[0, 1], [100, 2]], memory: [[0, 5], [50, 6]] });

  expect(paths(svg)).toHaveLength(2);
  expect(svg).toContain('>latency</text>');
  expect(svg).toContain('>memory</text>');
});

test('series scale to the plot corners', () => {
  const svg = renderChart('t', { value: [[0, 0], [500, 8], [1000, 4]] });

  expect(paths(svg)).toEqual(['M56.0,204.0 L340.0,24.0 L624.0,114.0']);
});

test('empty series is left out', () => {
  const svg = renderChart('t', { gone: [], value: [[0, 1], [10, 2]] });

  expect(paths(svg)).toHaveLength(1);
  expect(svg).not.toContain('>gone</text>');
});

test('chart without points has axes only', () => {
  const svg = renderChart('t', { gone: [] });

  expect(paths(svg)).toEqual([]);
  expect(svg).toContain('<line');
  expect(svg).not.toContain('NaN');
  expect(svg).not.toContain('Infinity');
});

test('single point is a move only', () => {
  const svg = renderChart('t', { value: [[0, 0]] });

  expect(paths(svg)).toEqual(['M56.0,204.0']);
  expect(svg).not.toContain('NaN');
});

test('x axis shows last time', () => {
  const svg = renderChart('t', { value: [[0, 1], [1499.6, 2]] });

  expect(svg).toContain('>1500 ms</text>');
});

// Cases as [maximum value, y axis label].
const labelCases: Array<[number, string]> = [
  [2.5, '2.50'], [42, '42'], [1500, '1.5k'], [3_500_000, '3.5M'], [2e9, '2.0G'],
];

for (const [max, label] of labelCases) {
  test(`y axis label of ${max}`, () => {
    const svg = renderChart('t', { value: [[0, 0], [10, max]] }, ' B');

    expect(svg).toContain(`>${label} B</text>`);
  });
}

test('title and names are escaped', () => {
  const svg = renderChart('<script>x</script>', { 'a<b & "c"': [[0, 1]] });

  expect(svg).not.toContain('<script>');
  expect(svg).toContain('&lt;script&gt;x&lt;/script&gt;');
  expect(svg).toContain('a&lt;b &amp; &quot;c&quot;');
});

test('seventh series reuses first color', () => {
  const series: Record<string, Series> = {};
  for (let i = 0; i < 7; i++) series[`s${i}`] = [[0, i + 1]];
  const svg = renderChart('t', series);
  const strokes = [...svg.matchAll(/<path [^>]*stroke="([^"]*)"/g)].map((match) => match[1]);

  expect(strokes).toHaveLength(7);
  expect(strokes[6]).toBe(strokes[0]);
  expect(new Set(strokes.slice(0, 6)).size).toBe(6);
});
