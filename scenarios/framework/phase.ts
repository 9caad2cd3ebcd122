// Small pieces every scenario phase uses: the empty result with the
// target's facts in its metrics, and ratios rounded for reports.
import type { Phase, PhaseResult, ScenarioContext } from './types.js';

/** Returns an empty PhaseResult whose metrics hold the constants and the target's facts. */
export function phaseResult(
  ctx: ScenarioContext,
  scenario: string,
  phase: Phase,
  constants: Record<string, number | string | boolean | null>,
): PhaseResult {
  return {
    scenario,
    phase,
    checks: [],
    offenderChecks: [],
    metrics: {
      ...constants,
      kernel: ctx.facts.kernelRelease,
      cgroupVersion: ctx.facts.cgroupVersion,
      cpus: ctx.facts.cpus,
    },
    samples: {},
    wallMs: 0,
  };
}

/** Returns value / base rounded to 3 decimals, or Infinity when either is missing or base is 0. */
export function ratio(value: number, base: number): number {
  if (!Number.isFinite(value) || !Number.isFinite(base) || base <= 0) return Infinity;
  return Math.round((value / base) * 1000) / 1000;
}

/** Returns ms since `origin` (a performance.now() value), rounded, for Series times. */
export function since(origin: number): number {
  return Math.round(performance.now() - origin);
}

/** Returns the result of a phase skipped for `reason`, with no checks. */
export function skippedPhase(scenario: string, phase: Phase, reason: string): PhaseResult {
  return {
    scenario, phase, checks: [], offenderChecks: [], metrics: {}, samples: {}, wallMs: 0, skipped: reason,
  };
}
