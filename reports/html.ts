// The static isolation report: a target-by-scenario matrix, then per
// scenario each phase's checks and the victim's samples as a chart. It reads
// results.json only, never the engine.
import type { CheckResult } from '../scenarios/framework/types.js';
import { renderChart } from './chart.js';
import type { ResultEntry, ResultsFile, Verdict } from './model.js';

const VERDICT_STYLE: Record<Verdict, string> = {
  passed: 'background:#d8f0d8',
  failed: 'background:#f6cccc',
  skipped: 'background:#eeeeee',
  'expected-failure': 'background:#f8e6b8',
};

function escapeHtml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' }[c]!));
}

/** Returns the verdict of a whole scenario on one target: the worst of its phases. */
function scenarioVerdict(entries: ResultEntry[]): Verdict {
  const order: Verdict[] = ['failed', 'expected-failure', 'passed', 'skipped'];
  for (const verdict of order) if (entries.some((e) => e.verdict === verdict)) return verdict;
  return 'skipped';
}

function matrix(file: ResultsFile): string {
  const targets = [...new Set(file.entries.map((e) => e.target))].sort();
  const scenarios = [...new Set(file.entries.map((e) => e.scenario))];
  const head = `<tr><th>scenario</th>${targets.map((t) => `<th>${escapeHtml(t)}</th>`).join('')}</tr>`;
  const rows = scenarios.map((scenario) => {
    const cells = targets.map((target) => {
      const entries = file.entries.filter((e) => e.scenario === scenario && e.target === target);
      if (entries.length === 0) return '<td>-</td>';
      const verdict = scenarioVerdict(entries);
      return `<td style="${VERDICT_STYLE[verdict]}"><a href="#${anchor(target, scenario)}">${verdict}</a></td>`;
    });
    return `<tr><th>${escapeHtml(scenario)}</th>${cells.join('')}</tr>`;
  });
  return `<table>${head}${rows.join('')}</table>`;
}

function anchor(target: string, scenario: string): string {
  return `${target}-${scenario}`.replace(/[^A-Za-z0-9-]/g, '-');
}

function checkRow(check: CheckResult): string {
  const bound = check.kind === 'within' ? `${check.expected} within ${(check.limit * 100).toFixed(0)}%` : `${check.kind === 'at-most' ? '<=' : '>='} ${check.limit}`;
  const error = Number.isFinite(check.error) ? `${(check.error * 100).toFixed(1)}%` : 'inf';
  const style = check.pass ? VERDICT_STYLE.passed : VERDICT_STYLE.failed;
  return `<tr style="${style}"><td>${escapeHtml(check.name)}</td><td>${check.actual}${escapeHtml(check.unit)}</td>` +
    `<td>${escapeHtml(bound)}${escapeHtml(check.unit)}</td><td>${error}</td><td>${check.pass ? 'held' : 'broken'}</td></tr>`;
}

function phaseSection(entry: ResultEntry): string {
  const checks = [...entry.checks, ...entry.offenderChecks];
  const table = checks.length
    ? `<table><tr><th>check</th><th>actual</th><th>bound</th><th>error</th><th></th></tr>${checks.map(checkRow).join('')}</table>`
    : '';
  const chart = Object.keys(entry.samples).length ? renderChart(`${entry.scenario} ${entry.phase}`, entry.samples) : '';
  const note = entry.skipped ? `<p>skipped: ${escapeHtml(entry.skipped)}</p>` : '';
  const finding = entry.finding ? `<p><b>finding:</b> ${escapeHtml(entry.finding)}</p>` : '';
  return `<h4 style="${VERDICT_STYLE[entry.verdict]}">${entry.phase}: ${entry.verdict} (${(entry.wallMs / 1000).toFixed(1)} s)</h4>` +
    `${note}${finding}${table}${chart}` +
    `<details><summary>metrics</summary><pre>${escapeHtml(JSON.stringify(entry.metrics, null, 2))}</pre></details>`;
}

/** Renders results.json as one self-contained HTML page. */
export function renderReport(file: ResultsFile): string {
  const groups = new Map<string, ResultEntry[]>();
  for (const entry of file.entries) {
    const key = `${entry.target}\0${entry.scenario}`;
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  const sections = [...groups.values()].map((entries) => {
    const first = entries[0];
    const facts = `kernel ${escapeHtml(first.kernelRelease)}${first.kernelPackageVersion ? ` (${escapeHtml(first.kernelPackageVersion)})` : ''}, ` +
      `cgroup v${first.cgroupVersion}, ${first.vcpus} vCPUs, ${first.memoryMiB} MiB, swap ${first.swapMiB} MiB`;
    return `<h3 id="${anchor(first.target, first.scenario)}">${escapeHtml(first.scenario)} on ${escapeHtml(first.target)}</h3>` +
      `<p>${facts}</p>${entries.map(phaseSection).join('')}`;
  });
  const totals = Object.entries(file.totals).map(([k, v]) => `${v} ${k}`).join(', ');
  return `<!doctype html><html><head><meta charset="utf-8"><title>isolab isolation report</title>` +
    `<style>body{font-family:sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse;margin:.5em 0}` +
    `td,th{border:1px solid #bbb;padding:3px 8px;text-align:left;font-size:13px}</style></head><body>` +
    `<h1>isolab isolation report</h1><p>started ${escapeHtml(file.startedAt)}, wall time ${(file.wallMs / 1000).toFixed(0)} s: ${totals}</p>` +
    `<h2>Targets by scenario</h2>${matrix(file)}<h2>Scenarios</h2>${sections.join('')}</body></html>\n`;
}
