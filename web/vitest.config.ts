import { defineConfig } from 'vitest/config';

// Unit tests: plain functions (page geometry, language choice, problem parsing), no browser.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
  },
});
