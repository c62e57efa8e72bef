import { defineConfig } from 'vitest/config';

/** Benchmarks that drive the real controller and simulator (npm run bench); not part of `make test`. */
export const config = defineConfig({
  test: {
    include: ['bench/**/*.bench.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 600_000,
    fileParallelism: false,
    reporters: ['default'],
  },
});

// eslint-disable-next-line no-restricted-syntax -- vitest loads the default export
export default config;
