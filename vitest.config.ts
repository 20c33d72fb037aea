import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    // Tests on the real engine start containers; two cores are shared by everything, so be patient.
    testTimeout: 120_000,
    hookTimeout: 900_000,
    // Files run in parallel, but the engine is one: keep the fan-out modest.
    maxWorkers: 2,
  },
});
