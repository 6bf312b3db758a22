import { defineConfig } from 'vitest/config';

// Browser stories: Playwright (playwright-core) driving Debian's Chromium against a running
// local stack. Started by the Rust end-to-end tests (tests/e2e/web.rs), which set the stack
// up, hand its address and the story's data over in GSIGN_STORY, and check the outcome
// (pyHanko on the downloaded PDF).
export default defineConfig({
  test: {
    include: ['e2e/**/*.test.ts'],
    environment: 'node',
    testTimeout: 240_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
