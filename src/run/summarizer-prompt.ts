// Builds the summarizer's user message: the question, each agent's answer labelled with its name
// (in the council's ranking order, with scores, when there is one), the judge's analysis (fusion),
// then what the result lacks: the agents that failed and the stages that were skipped, so the
// summary can say whose views it combines and with how much authority.
import type { Analysis } from "./judge-stage.js";
import type { AgentResult } from "./outcome.js";
import type { RankingEntry } from "./review-stage.js";

export interface SummaryInputs {
  ranking?: RankingEntry[];
  analysis?: Analysis;
  /** Stages that were skipped, each with why ("review: fewer than two answers"). */
  skipped?: string[];
}

const score = (e: RankingEntry) =>
  e.score === null ? "no counted review ranked it" : `score ${e.score.toFixed(2)} from ${e.reviews} review${e.reviews === 1 ? "" : "s"} (1 = every reviewer's best)`;

export function summarizerUserMessage(question: string, results: AgentResult[], extra: SummaryInputs = {}): string {
  let answered = results.filter((r) => r.status === "ok");
  const failed = results.filter((r) => r.status !== "ok");
  const parts = [`## Question\n\n${question}`];
  if (extra.ranking) {
    const order = extra.ranking.map((e) => e.agent);
    answered = [...answered].sort((a, b) => order.indexOf(a.agent) - order.indexOf(b.agent));
    parts.push("## Agent answers (in the reviewers' ranking order, best first)");
  } else parts.push("## Agent answers");
  answered.forEach((r, i) => {
    const entry = extra.ranking?.find((e) => e.agent === r.agent);
    const rank = entry ? `Rank ${i + 1} of ${answered.length}, ${score(entry)}.\n\n` : "";
    parts.push(`### ${r.agent} (answered)\n\n${rank}${r.status === "ok" ? r.output : ""}`);
  });
  if (extra.analysis) {
    parts.push(
      "## The judge's analysis of the answers\n\nName the contradictions and who holds which position; do not flatten them.\n\n" +
        "```json\n" + JSON.stringify(extra.analysis) + "\n```",
    );
  }
  parts.push(
    failed.length
      ? `## Agents that failed\n\n${failed.map((r) => `- ${r.agent}: ${r.code}`).join("\n")}`
      : "## Agents that failed\n\nnone",
  );
  if (extra.skipped?.length) parts.push(`## Stages that were skipped\n\n${extra.skipped.map((s) => `- ${s}`).join("\n")}`);
  if (failed.length || extra.skipped?.length) {
    parts.push("This result is degraded: say so in your first line, and do not present it with full authority.");
  }
  return parts.join("\n\n");
}
