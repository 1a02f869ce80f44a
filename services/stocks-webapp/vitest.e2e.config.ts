import { defineConfig } from "vitest/config";

// End-to-end: real headless Chromium (Debian's /usr/bin/chromium via playwright-core)
// against a real API on the simulated broker, started by e2e/global-setup.ts.
export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.ts"],
    environment: "node",
    globalSetup: ["e2e/global-setup.ts"],
    // One API, one database, one risk state: the scenarios run one after another.
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
