import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['testutils/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start servers and child processes; two cores here.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // On with --coverage (`npm test`). The provider is @vitest/coverage-v8 plus the coverage of the CLI child
    // processes the tests spawn (testutils/coverage/provider.ts), so the thresholds apply to both.
    coverage: {
      provider: 'custom',
      customProviderModule: './testutils/childcov/provider.ts',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      thresholds: { lines: 0 },
    },
  },
});
