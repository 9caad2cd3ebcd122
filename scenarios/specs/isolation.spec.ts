// The isolation suites: each scenario's three phases, run by the agent on the
// project's VM. Baseline and attack must hold; the control, with the
// guarantee switched off, must break the same victim check.
import { test as base, expect } from '@playwright/test';
import { describeCheck } from '../framework/checks.js';
import { scenarios } from '../suites/index.js';
import { explainsFailures, FINDINGS, findingEvidence, findingFor } from '../findings.js';
import '../suites/all.js';
import type { Phase, PhaseResult, TargetFacts } from '../framework/types.js';
import { agentCommand, GUEST_HOST_ROOT, startAgentOverSsh, type AgentClient } from '../agent/client.js';
import { ATTACHMENT_NAME, type PhaseAttachment, type TargetInfo } from '../../reports/model.js';
import { renderChart } from '../../reports/chart.js';
import { connectProjectVm, projectVm, type TargetOptions } from './target.js';

interface Agent { client: AgentClient; facts: TargetFacts; target: TargetInfo }

const PHASE_TIMEOUT_MS = 240_000;
const GUEST_STATE_ROOT = '/run/isolab-scenarios';

const test = base.extend<{}, TargetOptions & { agent: Agent }>({
  vmKernel: ['debian-6.1', { option: true, scope: 'worker' }],
  vmCgroup: ['v2', { option: true, scope: 'worker' }],
  agent: [async ({}, use, workerInfo) => {
    const project = workerInfo.project.name;
    const record = await projectVm(project);
    const ssh = await connectProjectVm(record);
    const log = (text: string) => process.stdout.write(`[${project}] ${text}\n`);
    const command = agentCommand(GUEST_STATE_ROOT, `${record.workDir}/scenarios`, true, GUEST_HOST_ROOT);
    const client = await startAgentOverSsh(ssh, command, log);
    const facts = await client.prepare();
    const target: TargetInfo = {
      target: project,
      kernelRelease: facts.kernelRelease,
      kernelPackageVersion: record.kernel.packageVersion,
      cgroupVersion: facts.cgroupVersion,
      vcpus: facts.cpus,
      memoryMiB: facts.memoryMiB,
      swapMiB: facts.swapMiB,
    };
    await use({ client, facts, target });
    await client.shutdown();
    ssh.end();
  }, { scope: 'worker', timeout: 600_000 }],
});

async function attach(result: PhaseResult, agent: Agent): Promise<void> {
  const data: PhaseAttachment = { ...agent.target, ...result };
  await test.info().attach(ATTACHMENT_NAME, { body: JSON.stringify(data, null, 2), contentType: 'application/json' });
  if (Object.keys(result.samples).length) {
    await test.info().attach('timeline.svg', {
      body: renderChart(`${result.scenario} ${result.phase}`, result.samples),
      contentType: 'image/svg+xml',
    });
  }
}

const phases: Phase[] = ['baseline', 'attack', 'control'];

for (const scenario of scenarios) {
  test.describe(scenario.title, () => {
    test.describe.configure({ timeout: PHASE_TIMEOUT_MS + 60_000 });
    for (const phase of phases) {
      test(`${scenario.name} ${phase}`, async ({ agent }) => {
        const result = await agent.client.run(scenario.name, phase, PHASE_TIMEOUT_MS);
        await attach(result, agent);
        test.skip(result.skipped !== undefined, result.skipped);
        const report = [...result.checks, ...result.offenderChecks].map(describeCheck).join('\n');
        expect(result.checks.length, 'victim checks').toBeGreaterThan(0);
        if (phase === 'control') {
          const broken = result.checks.filter((c) => !c.pass);
          expect(broken.length, `the control must break a victim check:\n${report}`).toBeGreaterThan(0);
          return;
        }
        // A known kernel finding turns exactly its own broken checks into an expected failure.
        const judged = phase === 'attack' ? [...result.checks, ...result.offenderChecks] : result.checks;
        const finding = findingFor(FINDINGS, scenario.name, phase, agent.target);
        if (finding && explainsFailures(finding, judged)) {
          test.info().annotations.push({ type: 'finding', description: findingEvidence(finding, agent.target, judged) });
          test.fail();
        }
        for (const check of result.checks) expect(check.pass, `victim: ${describeCheck(check)}\n${report}`).toBe(true);
        if (phase === 'attack') {
          expect(result.offenderChecks.length, 'offender checks').toBeGreaterThan(0);
          for (const check of result.offenderChecks) expect(check.pass, `offender: ${describeCheck(check)}\n${report}`).toBe(true);
        }
      });
    }
  });
}
