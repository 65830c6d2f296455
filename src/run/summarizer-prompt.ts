// Builds the summarizer's user message: the question, then each agent's answer labelled with
// its name, then the agents that failed, so the summary can say whose views it combines.
import type { AgentResult } from "./outcome.js";

export function summarizerUserMessage(question: string, results: AgentResult[]): string {
  const answered = results.filter((r) => r.status === "ok");
  const failed = results.filter((r) => r.status !== "ok");
  const parts = [`## Question\n\n${question}`, "## Agent answers"];
  for (const r of answered) parts.push(`### ${r.agent} (answered)\n\n${r.output}`);
  parts.push(
    failed.length
      ? `## Agents that failed\n\n${failed.map((r) => `- ${r.agent}: ${r.code}`).join("\n")}`
      : "## Agents that failed\n\nnone",
  );
  return parts.join("\n\n");
}
