// The `chorus` command line with the strategy options, spawned as a real process against a real
// Chorus on the built-in mock LLM: --dry-run, --preset/--strategy with the reviews, ranking and
// the judge's analysis in text, --rounds, --max-cost.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/run-cli.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

let chorus: TestChorus;
beforeAll(async () => {
  chorus = await startChorus({ MOCK_TOKEN_DELAY_MS: "2" });
});
afterAll(() => chorus.close());
const lines = (s: string) => s.split("\n").filter(Boolean);

describe("chorus with strategies", () => {
  it("--dry-run shows the plan and the worst-case cost and calls nothing", async () => {
    const r = await runCli(["--dry-run", "--preset", "council", "Why is the sky blue?"], { CHORUS_URL: chorus.url });
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([
      "plan: preset council · council · 1 round · agents analyst, critic, explainer · 7 calls",
      expect.stringMatching(/^worst case: \$0\.\d{6} \(\d+ prompt \+ \d+ completion tokens\); nothing was called$/),
    ]);
    expect(chorus.logs.some((l) => l.msg === "run finished")).toBe(false);
  });

  it("--strategy council prints each review and the ranking before the summary", async () => {
    const r = await runCli(["--strategy", "council", "Why is the sky blue?"], { CHORUS_URL: chorus.url });
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    const reviews = out.filter((l) => l.startsWith("  review by "));
    expect(reviews).toHaveLength(3);
    expect(reviews[0]).toMatch(/^ {2}review by \w+: \w+ > \w+ > \w+ \(\d+(\.\d)? (ms|s)\)$/);
    const at = out.findIndex((l) => l.startsWith("ranking from 3 reviewers"));
    expect(out.slice(at + 1, at + 4)).toEqual([expect.stringMatching(/^ {2}1\. \w+ {2,}\d\.\d\d {2}\(2 reviews\)$/), expect.stringMatching(/^ {2}2\. /), expect.stringMatching(/^ {2}3\. /)]);
    // The scores stand in one column, whatever the agents' names.
    expect(new Set(out.slice(at + 1, at + 4).map((l) => l.search(/\d\.\d\d /))).size).toBe(1);
    expect(out.findIndex((l) => l.startsWith("[mock] Combining the views"))).toBeGreaterThan(at);
    expect(out.at(-1)).toMatch(/^status: ok — all 3 agents answered · council · total .* · \$0\.\d{6}$/);
  });

  it("--preset deep shows both rounds and the judge's contradictions with who said what", async () => {
    const r = await runCli(["--preset", "deep", "Why is the sky blue?"], { CHORUS_URL: chorus.url });
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out.filter((l) => /done in .* \(round 2\)$/.test(l))).toHaveLength(3);
    expect(out).toContain("judge's analysis:");
    expect(out.some((l) => /^ {2}contradiction: /.test(l))).toBe(true);
    for (const a of ["analyst", "critic", "explainer"]) expect(out.some((l) => l.startsWith(`    ${a}: Stresses`))).toBe(true);
  });

  it("--max-cost below the estimate is refused (exit 2, nothing called); bad values are usage errors", async () => {
    const r = await runCli(["--max-cost", "0.0000001", "Why?"], { CHORUS_URL: chorus.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^chorus: 402 budget_exceeded: the run's worst-case cost .* is above max_cost_usd 1e-7 USD/);
    for (const bad of [["--rounds", "9"], ["--max-cost", "free"]]) {
      const u = await runCli([...bad, "Why?"], { CHORUS_URL: chorus.url });
      expect(u.code).toBe(2);
      expect(u.stderr).toContain("Usage: chorus");
    }
    const unknown = await runCli(["--preset", "nope", "Why?"], { CHORUS_URL: chorus.url });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("400 invalid_request: preset: must name a preset");
  });
});
