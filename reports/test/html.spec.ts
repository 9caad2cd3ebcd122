import { expect, test } from '@playwright/test';

import { renderReport } from '../html.js';
import type { Verdict } from '../model.js';
import { resultEntry, resultsFile } from './fixtures.js';
import { atLeast, within } from '../../scenarios/framework/checks.js';
import type { Phase } from '../../scenarios/framework/types.js';

/** Returns the text of the matrix cell that links to a target's scenario section. */
function cell(html: string, target: string, scenario: string): string | undefined {
  const anchor = `${target}-${scenario}`.replace(/[^A-Za-z0-9-]/g, '-');
  return new RegExp(`<td style="[^"]*"><a href="#${anchor}">([^<]*)</a></td>`).exec(html)?.[1];
}

const script = '<script>alert(1)</script>';

test('finding text is escaped', () => {
  const finding = `${script}\nkernel 6.1 "breaks" pids & threads`;
  const html = renderReport(resultsFile([resultEntry('qemu-a', 'forkbomb', 'attack', 'expected-failure',
    { finding })]));

  expect(html).not.toContain('<script>');
  expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  expect(html).toContain('&quot;breaks&quot; pids &amp; threads');
});

test('scenario and target are escaped', () => {
  const html = renderReport(resultsFile([resultEntry(`t${script}`, `s${script}`, 'baseline', 'passed')]));

  expect(html).not.toContain('<script>');
  expect(html).toContain(`<th>s&lt;script&gt;alert(1)&lt;/script&gt;</th>`);
  expect(html).toContain(`<th>t&lt;script&gt;alert(1)&lt;/script&gt;</th>`);
});

test('check, skip and metric text escaped', () => {
  const check = atLeast(`victim ${script}`, 1, 2, `<b>`);
  const html = renderReport(resultsFile([resultEntry('qemu-a', 'forkbomb', 'attack', 'skipped', {
    checks: [check], skipped: `needs ${script}`, metrics: { note: script },
  })]));

  expect(html).not.toContain('<script>');
  expect(html).not.toContain('<b>');
  expect(html).toContain('needs &lt;script&gt;');
});

test('matrix cell per target and scenario', () => {
  const html = renderReport(resultsFile([
    resultEntry('qemu-a', 'forkbomb', 'baseline', 'passed'),
    resultEntry('qemu-b', 'forkbomb', 'baseline', 'failed'),
    resultEntry('qemu-a', 'paging', 'baseline', 'skipped'),
  ]));

  expect(cell(html, 'qemu-a', 'forkbomb')).toBe('passed');
  expect(cell(html, 'qemu-b', 'forkbomb')).toBe('failed');
  expect(cell(html, 'qemu-a', 'paging')).toBe('skipped');
  expect(cell(html, 'qemu-b', 'paging')).toBeUndefined();
  expect(html).toContain('<td>-</td>');
});

// Cases as [phase verdicts, matrix verdict]. A scenario shows its worst phase.
const worstCases: Array<[Verdict[], Verdict]> = [
  [['passed', 'failed', 'expected-failure'], 'failed'],
  [['passed', 'expected-failure', 'skipped'], 'expected-failure'],
  [['skipped', 'passed', 'skipped'], 'passed'],
  [['skipped', 'skipped', 'skipped'], 'skipped'],
];

for (const [verdicts, expected] of worstCases) {
  test(`matrix shows ${expected} of ${verdicts.join(', ')}`, () => {
    const phases: Phase[] = ['baseline', 'attack', 'control'];
    const html = renderReport(resultsFile(verdicts.map((verdict, i) =>
      resultEntry('qemu-a', 'forkbomb', phases[i], verdict))));

    expect(cell(html, 'qemu-a', 'forkbomb')).toBe(expected);
  });
}

test('matrix link reaches scenario section', () => {
  const html = renderReport(resultsFile([resultEntry('qemu-debian-6.1-v2', 'fork.bomb', 'attack', 'passed')]));

  expect(html).toContain('<a href="#qemu-debian-6-1-v2-fork-bomb">');
  expect(html).toContain('<h3 id="qemu-debian-6-1-v2-fork-bomb">');
});

test('phase heading shows verdict', () => {
  const html = renderReport(resultsFile([resultEntry('qemu-a', 'forkbomb', 'attack', 'expected-failure')]));

  expect(html).toMatch(/<h4 style="[^"]*">attack: expected-failure \(1\.5 s\)<\/h4>/);
});

test('check rows show held and broken', () => {
  const passing = atLeast('victim forks', 64, 64);
  const failing = within('victim share', 3, 0, 0.1);
  const html = renderReport(resultsFile([resultEntry('qemu-a', 'forkbomb', 'attack', 'failed', {
    checks: [passing], offenderChecks: [failing],
  })]));

  expect(html).toContain(
    '<td>victim forks</td><td>64</td><td>&gt;= 64</td><td>0.0%</td><td>held</td>');
  expect(html).toContain(
    '<td>victim share</td><td>3</td><td>0 within 10%</td><td>inf</td><td>broken</td>');
});

test('target facts in section', () => {
  const html = renderReport(resultsFile([resultEntry('qemu-a', 'forkbomb', 'attack', 'passed')]));

  expect(html).toContain(
    'kernel 6.1.0-25-amd64 (6.1.106-3), cgroup v2, 2 vCPUs, 1024 MiB, swap 256 MiB');
});

test('totals in report header', () => {
  const html = renderReport(resultsFile([
    resultEntry('qemu-a', 'forkbomb', 'baseline', 'passed'),
    resultEntry('qemu-a', 'forkbomb', 'attack', 'failed'),
  ]));

  expect(html).toContain('wall time 90 s: 1 passed, 1 failed, 0 skipped, 0 expected-failure');
});

test('chart only with samples', () => {
  const withSamples = renderReport(resultsFile([resultEntry('qemu-a', 'forkbomb', 'attack', 'passed', {
    samples: { 'victim latency': [[0, 1], [100, 2]] },
  })]));
  const without = renderReport(resultsFile([resultEntry('qemu-a', 'forkbomb', 'attack', 'passed')]));

  expect(withSamples).toContain('<svg');
  expect(without).not.toContain('<svg');
});
