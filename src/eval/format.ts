// Number formats and the table rows shared by the terminal, Markdown and HTML reports.
import { significant, type ContenderStats } from "./stats.js";

export const pct = (x: number) => `${(x * 100).toFixed(0)} %`;

export function usd(x: number | null): string {
  if (x === null) return "n/a";
  if (x === 0) return "$0";
  return `$${x.toFixed(x < 0.01 ? 6 : 4)}`;
}

export function ms(x: number | null): string {
  if (x === null) return "n/a";
  return x < 1000 ? `${Math.round(x)} ms` : `${(x / 1000).toFixed(1)} s`;
}

export function failures(s: ContenderStats): string {
  const parts = [];
  if (s.answersFailed) parts.push(`${s.answersFailed} answer${s.answersFailed > 1 ? "s" : ""}`);
  if (s.verdictsFailed) parts.push(`${s.verdictsFailed} verdict${s.verdictsFailed > 1 ? "s" : ""}`);
  return parts.join(", ") || "0";
}

export function winCell(s: ContenderStats): string {
  if (s.baseline) return "(baseline)";
  if (s.winRate === null || !s.ci) return "n/a";
  return `${pct(s.winRate)} [${pct(s.ci[0])}, ${pct(s.ci[1])}]`;
}

export function reading(s: ContenderStats): string {
  if (s.baseline) return "";
  if (s.winRate === null) return "no judged question";
  if (!significant(s)) return "no clear difference";
  return s.winRate > 0.5 ? "better" : "worse";
}

export const TABLE_HEADER = ["contender", "win rate vs baseline [95% CI]", "reading", "cost/question", "latency p50", "latency p95", "failures"];

export function tableRows(stats: ContenderStats[]): string[][] {
  return stats.map((s) => [s.contender, winCell(s), reading(s), usd(s.costPerQuestion), ms(s.latencyP50), ms(s.latencyP95), failures(s)]);
}

/** Columns padded to their widest cell, for a terminal. */
export function terminalTable(stats: ContenderStats[]): string {
  const rows = [TABLE_HEADER, ...tableRows(stats)];
  const widths = TABLE_HEADER.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}
