// Results entries and files for the reports' unit tests.
import type { ResultEntry, ResultsFile, Verdict } from '../model.js';
import type { Phase } from '../../scenarios/framework/types.js';

/** Returns a results entry on a 2-vCPU debian-6.1 guest, with `extra` fields on top. */
export function resultEntry(target: string, scenario: string, phase: Phase, verdict: Verdict,
  extra: Partial<ResultEntry> = {}): ResultEntry {
  return {
    target,
    kernelRelease: '6.1.0-25-amd64',
    kernelPackageVersion: '6.1.106-3',
    cgroupVersion: 2,
    vcpus: 2,
    memoryMiB: 1024,
    swapMiB: 256,
    scenario,
    phase,
    checks: [],
    offenderChecks: [],
    metrics: {},
    samples: {},
    wallMs: 1500,
    test: `${target} > ${scenario} ${phase}`,
    verdict,
    durationMs: 2000,
    ...extra,
  };
}

/** Returns a results file with these entries and their totals. */
export function resultsFile(entries: ResultEntry[]): ResultsFile {
  const totals: Record<Verdict, number> = { passed: 0, failed: 0, skipped: 0, 'expected-failure': 0 };
  for (const item of entries) totals[item.verdict]++;
  return { schemaVersion: 1, startedAt: '2026-12-04T20:00:00.000Z', wallMs: 90_000, totals, entries };
}
