// The later stages of a run as plain text lines for the command-line client: each review, the
// council's aggregate ranking, and the fusion judge's analysis (who said what).
import type { EventData } from "../run/events.js";

export function reviewLine(d: EventData<"review_done">, ms: string): string {
  return `  review by ${d.reviewer}: ${d.ranking.join(" > ")} (${ms})`;
}

export function reviewErrorLine(d: EventData<"review_error">, ms: string): string {
  return `  review by ${d.reviewer} not used after ${ms} (${d.error.code}: ${d.error.message})`;
}

export function rankingLines(d: EventData<"ranking">): string[] {
  const width = Math.max(0, ...d.ranking.map((e) => e.agent.length));
  const rows = d.ranking.map((e, i) => `  ${i + 1}. ${e.agent.padEnd(width)}  ${e.score === null ? "unranked" : e.score.toFixed(2)}  (${e.reviews} review${e.reviews === 1 ? "" : "s"})`);
  return [`ranking from ${d.reviewers} reviewer${d.reviewers === 1 ? "" : "s"} (1.00 = every reviewer's best; own votes not counted):`, ...rows];
}

export function analysisLines(d: EventData<"analysis">): string[] {
  const lines: string[] = ["judge's analysis:"];
  if (d.consensus.length) lines.push("  consensus:", ...d.consensus.map((c) => `    - ${c}`));
  for (const c of d.contradictions) {
    lines.push(`  contradiction: ${c.topic}`, ...c.positions.map((p) => `    ${p.agent}: ${p.stance}`));
  }
  if (d.unique_insights.length) lines.push("  unique insights:", ...d.unique_insights.map((u) => `    ${u.agent}: ${u.insight}`));
  if (d.blind_spots.length) lines.push("  blind spots:", ...d.blind_spots.map((b) => `    - ${b}`));
  return lines;
}
