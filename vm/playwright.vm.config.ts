import { defineConfig } from '@playwright/test';

// The VM tests boot real Debian kernels under QEMU, as root. The setup project
// fetches the kernels and runs the KVM probe once, so the boots that follow
// do not race to do it. The leak check runs last.
export default defineConfig({
  testDir: '.',
  timeout: 300_000,
  workers: 2,
  forbidOnly: Boolean(process.env.CI),
  outputDir: '../test-results/vm',
  reporter: [['list']],
  projects: [
    { name: 'vm-setup', testMatch: /test\/.*\.setup\.ts$/, timeout: 30 * 60_000 },
    {
      name: 'vm',
      testMatch: /test\/.*\.spec\.ts$/,
      testIgnore: /test\/leftovers\.spec\.ts$/,
      fullyParallel: true,
      dependencies: ['vm-setup'],
    },
    { name: 'vm-leak-check', testMatch: /test\/leftovers\.spec\.ts$/, dependencies: ['vm'] },
  ],
});
