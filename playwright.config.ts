import { defineConfig, type Project } from '@playwright/test';

// Every test here drives real kernels: the engine tests need root on this
// machine, the VM tests and scenarios boot Debian kernels under QEMU, and no
// browser is used.

/** Scenario targets: a kernel and a cgroup version each. */
const KERNELS = ['debian-6.1', 'debian-6.12', 'debian-5.10'];
const CGROUPS = ['v2', 'v1'] as const;

/** The scenario target `npm test` runs; the others run on request with --project. */
export const DEFAULT_TARGET = 'qemu-debian-6.1-v2';

// `npm test` sets ISOLAB_SEQUENTIAL_VMS so the VM tests start after the
// engine tests and the scenario VM boots only after the VM tests: on 2 cores,
// TCG guests next to other busy work boot slowly and skew the CPU-share
// scenario.
const SEQUENTIAL = Boolean(process.env.ISOLAB_SEQUENTIAL_VMS);
const AFTER_VM_TESTS = SEQUENTIAL ? ['vm-leak-check'] : [];
// A VM boot or a phase under TCG on a loaded host can fail for reasons of
// load alone; one retry separates that from a failure that repeats, and the
// summary counts a test that passed on retry as flaky-passed.
const VM_RETRIES = 1;

function targetProjects(kernel: string, cgroup: 'v1' | 'v2'): Project[] {
  const name = `qemu-${kernel}-${cgroup}`;
  const use = { vmKernel: kernel, vmCgroup: cgroup } as Record<string, unknown>;
  return [
    {
      name: `${name}-setup`,
      testMatch: /scenarios\/specs\/vm\.setup\.ts$/,
      use,
      teardown: `${name}-teardown`,
      dependencies: AFTER_VM_TESTS,
      retries: VM_RETRIES,
      timeout: 20 * 60_000,
    },
    { name, testMatch: /scenarios\/specs\/isolation\.spec\.ts$/, use, dependencies: [`${name}-setup`], retries: VM_RETRIES },
    { name: `${name}-teardown`, testMatch: /scenarios\/specs\/vm\.teardown\.ts$/, use },
  ];
}

export default defineConfig({
  timeout: 120_000,
  globalTimeout: 85 * 60_000,
  workers: 2,
  fullyParallel: false,
  forbidOnly: Boolean(process.env.CI),
  outputDir: 'test-results',
  reporter: [
    ['list'],
    ['junit', { outputFile: 'results/junit.xml' }],
    ['allure-playwright', { resultsDir: 'results/allure-results' }],
    ['./reports/results-reporter.ts', { outputFile: 'results/results.json' }],
    ['./reports/summary-reporter.ts'],
  ],
  projects: [
    { name: 'unit', testMatch: /(engine\/.*|scenarios|reports)\/test\/.*\.spec\.ts$/ },
    { name: 'engine', testMatch: /tests\/engine\/.*\.spec\.ts$/ },
    {
      name: 'vm-setup',
      testMatch: /vm\/test\/.*\.setup\.ts$/,
      dependencies: SEQUENTIAL ? ['leak-check'] : [],
      retries: VM_RETRIES,
      timeout: 30 * 60_000,
    },
    {
      name: 'vm',
      testMatch: /vm\/test\/.*\.spec\.ts$/,
      testIgnore: /vm\/test\/leftovers\.spec\.ts$/,
      dependencies: ['vm-setup'],
      fullyParallel: true,
      retries: VM_RETRIES,
      timeout: 300_000,
    },
    { name: 'vm-leak-check', testMatch: /vm\/test\/leftovers\.spec\.ts$/, dependencies: ['vm'] },
    ...KERNELS.flatMap((kernel) => CGROUPS.flatMap((cgroup) => targetProjects(kernel, cgroup))),
    {
      name: 'leak-check',
      testMatch: /tests\/leak-check\.spec\.ts$/,
      dependencies: ['unit', 'engine'],
    },
  ],
});
