import { defineConfig } from '@playwright/test';

// Every test here drives real kernels: the engine tests need root on this
// machine, and no browser is used.
export default defineConfig({
  timeout: 120_000,
  globalTimeout: 80 * 60_000,
  workers: 2,
  fullyParallel: false,
  forbidOnly: Boolean(process.env.CI),
  outputDir: 'test-results',
  reporter: [
    ['list'],
    ['junit', { outputFile: 'results/junit.xml' }],
    ['allure-playwright', { resultsDir: 'results/allure-results' }],
    ['./reports/results-reporter.ts', { outputFile: 'results/results.json' }],
    ['./tests/summary-reporter.ts'],
  ],
  projects: [
    { name: 'unit', testMatch: /engine\/.*\/test\/.*\.spec\.ts$/ },
    { name: 'engine', testMatch: /tests\/engine\/.*\.spec\.ts$/ },
    {
      name: 'leak-check',
      testMatch: /tests\/leak-check\.spec\.ts$/,
      dependencies: ['unit', 'engine'],
    },
  ],
});
