// `isolab scenario run NAME... --target local --allow-attacks`: runs scenario
// phases on this machine, for developing scenarios. The suites proper run in
// a VM through Playwright.
import { parseArgs } from 'node:util';
import { IsolabError } from '../engine/errors.js';
import { ScenarioRunner } from '../scenarios/framework/runner.js';
import { describeCheck } from '../scenarios/framework/checks.js';
import { scenarios } from '../scenarios/suites/index.js';
import type { Phase } from '../scenarios/framework/types.js';
import '../scenarios/suites/all.js';

export const SCENARIO_USAGE = `usage: isolab scenario list
       isolab scenario run [--phase baseline|attack|control] [--json]
                           --target local --allow-attacks NAME...
  Runs scenario phases on this machine's kernel. Attacks run only inside
  containers with limits, but this machine is not disposable, so
  --allow-attacks is required.`;

/** Runs `isolab scenario ...` and returns the exit code. */
export async function runScenarioCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === 'list') {
    for (const s of scenarios) process.stdout.write(`${s.name}\t${s.title}\n`);
    return 0;
  }
  if (verb !== 'run') {
    process.stdout.write(`${SCENARIO_USAGE}\n`);
    return verb === undefined || verb === '--help' ? 0 : 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      phase: { type: 'string', multiple: true },
      target: { type: 'string', default: 'local' },
      'allow-attacks': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  if (values.target !== 'local') {
    throw new IsolabError({ kind: 'unsupported', op: 'run scenarios on target', value: values.target, reason: 'use `npm test` for VM targets' });
  }
  if (!values['allow-attacks']) {
    throw new IsolabError({ kind: 'invalid-input', op: 'run attacks on this machine', reason: 'it is not disposable; pass --allow-attacks' });
  }
  const phases = (values.phase ?? ['baseline', 'attack', 'control']) as Phase[];
  const runner = new ScenarioRunner({ stateRoot: '/run/isolab-scenarios', workDir: '/var/tmp/isolab-scenarios' });
  const abort = () => { void runner.cleanup().then(() => process.exit(130)); };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  let failed = 0;
  try {
    for (const name of positionals.length ? positionals : scenarios.map((s) => s.name)) {
      for (const phase of phases) {
        const result = await runner.run(name, phase, (text) => process.stderr.write(`  ${text}\n`));
        if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        const ok = result.skipped !== undefined || judge(result);
        if (!ok) failed++;
        process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${name} ${phase} (${result.wallMs} ms)${result.skipped ? ` skipped: ${result.skipped}` : ''}\n`);
        for (const check of [...result.checks, ...result.offenderChecks]) process.stdout.write(`     ${describeCheck(check)}\n`);
      }
    }
  } finally {
    await runner.cleanup();
  }
  return failed > 0 ? 1 : 0;
}

/** Returns true when victim checks all pass (baseline, attack) or one fails (control). */
export function judge(result: import('../scenarios/framework/types.js').PhaseResult): boolean {
  const victimHeld = result.checks.every((c) => c.pass);
  if (result.phase === 'control') return result.checks.length > 0 && !victimHeld;
  const offenderHeld = result.phase !== 'attack' || result.offenderChecks.every((c) => c.pass);
  return result.checks.length > 0 && victimHeld && offenderHeld;
}
