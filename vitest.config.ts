import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // The tests' model servers are on loopback: a proxy set in the shell (Chorus honours
    // HTTP(S)_PROXY) must not carry their calls off. test/egress-proxy.test.ts sets its own.
    env: { NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost" },
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      // Entry points run as child processes in the tests (the CLI tests spawn chorus.ts), where
      // v8 coverage of this process cannot see them; index.ts only wires signals and exits.
      // `chorus eval`'s command and its in-process server likewise run only in a spawned CLI.
      exclude: ["src/index.ts", "src/cli/chorus.ts", "src/eval/eval-command.ts", "src/eval/local-chorus.ts"],
      thresholds: { lines: 90 },
      reporter: ["text-summary"],
    },
  },
});
