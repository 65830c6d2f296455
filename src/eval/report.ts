// The report of an eval, written next to its JSONL: Markdown (report.md) and one HTML page
// (report.html) with everything inline (styles, an SVG chart of quality against cost), so it
// can be mailed or opened offline.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { failures, ms, pct, TABLE_HEADER, tableRows, usd } from "./format.js";
import type { ContenderStats } from "./stats.js";

export interface EvalSummary {
  baseline: string;
  stats: ContenderStats[];
  questions: number;
  kinds: string[];
  judgeModel: string;
  chorusUrl: string;
  startedAt: string;
  elapsedMs: number;
  spend: { answersUsd: number; judgeUsd: number };
  calls: { service: number; judge: number };
}

const INTERVAL_NOTE =
  "The interval is a 95 % Wilson interval over questions (each question scores 1 for a win, 0.5 for a tie, 0 for a loss, " +
  "averaged over the two orders the judge saw). When it contains 50 %, the difference from the baseline is not significant " +
  "on this question set: more questions, or a bigger real difference, are needed to tell.";

function kindRows(s: EvalSummary): string[][] {
  return s.stats.filter((x) => !x.baseline).map((x) => [x.contender, ...s.kinds.map((k) => (x.byKind[k]?.winRate == null ? "n/a" : `${pct(x.byKind[k]!.winRate!)} (${x.byKind[k]!.scored})`))]);
}

const mdTable = (header: string[], rows: string[][]) =>
  [header, header.map(() => "---"), ...rows].map((r) => `| ${r.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`).join("\n");

export function markdownReport(s: EvalSummary): string {
  return [
    "# Chorus eval",
    "",
    `${s.questions} questions · baseline \`${s.baseline}\` · judge \`${s.judgeModel}\` · ${s.chorusUrl} · started ${s.startedAt} · ${ms(s.elapsedMs)}`,
    "",
    mdTable(TABLE_HEADER, tableRows(s.stats)),
    "",
    INTERVAL_NOTE,
    "",
    "## Win rate by kind of question (questions counted)",
    "",
    mdTable(["contender", ...s.kinds], kindRows(s)),
    "",
    "## Spend",
    "",
    `Answers ${usd(s.spend.answersUsd)} · judge ${usd(s.spend.judgeUsd)} · ${s.calls.service} service LLM calls · ${s.calls.judge} judge calls.`,
    "",
  ].join("\n");
}

const esc = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Round tick steps (1, 2 or 5 times a power of ten) covering [0, max]. */
function ticks(max: number): number[] {
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return Array.from({ length: Math.ceil(max / step) + 1 }, (_, i) => Number((i * step).toPrecision(6)));
}

/**
 * Win rate (with its interval) against cost per question, one point per contender; the
 * baseline is the dashed 50 % line. Without prices the points are spread along the x axis in
 * table order, and the axis says the cost is unknown.
 */
export function chartSvg(stats: ContenderStats[]): string {
  const W = 640, H = 360, L = 64, R = 24, T = 20, B = 48;
  const rivals = stats.filter((s) => !s.baseline && s.winRate !== null);
  const priced = stats.some((s) => s.costPerQuestion !== null);
  const xTicks = priced ? ticks(Math.max(...stats.map((s) => s.costPerQuestion ?? 0)) || 1e-6) : [];
  const xMax = priced ? xTicks.at(-1)! : rivals.length + 1;
  const x = (c: number) => L + (c / xMax) * (W - L - R);
  const y = (w: number) => T + (1 - w) * (H - T - B);
  const base = stats.find((s) => s.baseline);
  const parts: string[] = [`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Win rate against the baseline versus cost per question">`];
  parts.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="#fafafa" stroke="#ccc"/>`);
  for (const w of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(w)}" y2="${y(w)}" stroke="${w === 0.5 ? "#888" : "#e4e4e4"}"${w === 0.5 ? ' stroke-dasharray="6 4"' : ""}/>`);
    parts.push(`<text x="${L - 8}" y="${y(w) + 4}" text-anchor="end" font-size="12">${pct(w)}</text>`);
  }
  if (base) parts.push(`<text x="${W - R - 4}" y="${y(0.5) + 16}" text-anchor="end" font-size="12" fill="#666">${esc(`50 %: as good as the baseline, ${base.contender}`)}</text>`);
  for (const c of xTicks) parts.push(`<text x="${x(c)}" y="${H - B + 18}" text-anchor="middle" font-size="12">$${c}</text>`);
  const xLabel = priced ? "cost per question (USD)" : "cost per question: unknown (no price for the models)";
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle" font-size="13">${xLabel}</text>`);
  parts.push(`<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle" font-size="13">win rate vs baseline</text>`);
  const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
  // Labels are placed right of their point (left near the right edge), moved down while they
  // would overprint one already placed (about 7 px a character at 12 px).
  const placed: { x0: number; x1: number; y: number }[] = [];
  const label = (px: number, py: number, text: string, color: string) => {
    const w = text.length * 7;
    const right = px > W - R - w - 12;
    const x0 = right ? px - 8 - w : px + 8;
    let ly = py - 8;
    while (placed.some((p) => p.x0 < x0 + w && x0 < p.x1 && Math.abs(p.y - ly) < 14)) ly += 14;
    placed.push({ x0, x1: x0 + w, y: ly });
    parts.push(`<text x="${x0}" y="${ly}" font-size="12" fill="${color}">${esc(text)}</text>`);
  };
  if (base && priced && base.costPerQuestion !== null) {
    // The baseline sits on its own line, at its own cost.
    const bx = x(base.costPerQuestion);
    parts.push(`<circle cx="${bx}" cy="${y(0.5)}" r="5" fill="#666"><title>${esc(`${base.contender} (baseline): ${usd(base.costPerQuestion)}/question`)}</title></circle>`);
    label(bx, y(0.5), base.contender, "#666");
  }
  rivals.forEach((s, i) => {
    const cx = x(priced ? (s.costPerQuestion ?? 0) : i + 1);
    const cy = y(s.winRate!);
    const color = colors[i % colors.length]!;
    if (s.ci) parts.push(`<line x1="${cx}" x2="${cx}" y1="${y(s.ci[0])}" y2="${y(s.ci[1])}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<circle cx="${cx}" cy="${cy}" r="5" fill="${color}"><title>${esc(`${s.contender}: ${pct(s.winRate!)}, ${usd(s.costPerQuestion)}/question`)}</title></circle>`);
    label(cx, cy, s.contender, color);
  });
  parts.push("</svg>");
  return parts.join("\n");
}

const htmlTable = (header: string[], rows: string[][]) =>
  `<table><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("")}</tbody></table>`;

export function htmlReport(s: EvalSummary): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chorus eval</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}
th{background:#f3f3f3}p.note{color:#555}
</style></head><body>
<h1>Chorus eval</h1>
<p>${esc(`${s.questions} questions · baseline ${s.baseline} · judge ${s.judgeModel} · started ${s.startedAt} · ${ms(s.elapsedMs)}`)}</p>
${htmlTable(TABLE_HEADER, tableRows(s.stats))}
<p class="note">${esc(INTERVAL_NOTE)}</p>
<h2>Quality against cost</h2>
<p class="note">Each point is a contender: its win rate against the baseline (the bar is the 95 % interval) and its mean cost per question. The dashed line is 50 %, the baseline's level.</p>
${chartSvg(s.stats)}
<h2>Win rate by kind of question</h2>
${htmlTable(["contender", ...s.kinds], kindRows(s))}
<h2>Spend</h2>
<p>${esc(`Answers ${usd(s.spend.answersUsd)} · judge ${usd(s.spend.judgeUsd)} · ${s.calls.service} service LLM calls · ${s.calls.judge} judge calls. Failures: ${s.stats.map((x) => `${x.contender} ${failures(x)}`).join("; ")}.`)}</p>
</body></html>
`;
}

export interface ReportFiles {
  markdown: string;
  html: string;
}

export function writeReports(dir: string, s: EvalSummary): ReportFiles {
  const files = { markdown: join(dir, "report.md"), html: join(dir, "report.html") };
  writeFileSync(files.markdown, markdownReport(s));
  writeFileSync(files.html, htmlReport(s));
  return files;
}

