import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      // The entry point only wires process signals and exits; it is exercised by the CLI smoke test.
      exclude: ["src/index.ts"],
      thresholds: { lines: 90 },
      reporter: ["text-summary"],
    },
  },
});
