// Issue 16's targets, checked against one bench run: each with its figure, its ratio and ok/short.
// Figures are medians over the repetitions; a ratio compares medians measured in the same run.

export interface TargetLine {
  target: string;
  figure: string;
  ratio: string;
  /** undefined: not measured in this run (the reason is in `figure`). */
  ok: boolean | undefined;
  /** Said after the result: "cheaper" for a cost below its band (short in the cheap direction). */
  note?: string;
}

const median = (xs: number[]) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = (s.length - 1) / 2;
  return (s[Math.floor(m)]! + s[Math.ceil(m)]!) / 2;
};
const fmt = (x: number) => (!Number.isFinite(x) ? "–" : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));

export class Targets {
  readonly lines: TargetLine[] = [];

  private add(line: TargetLine) {
    this.lines.push(line);
    const mark = (line.ok === undefined ? "n/a" : line.ok ? "ok" : "SHORT") + (line.note ? ` (${line.note})` : "");
    console.log(`target: ${line.target} | ${line.figure} | ${line.ratio} | ${mark}`);
  }

  /** Chorus ÷ naive (medians) against a bound: `≤ 0.7` or `≥ 1.3`. */
  ratio(target: string, unit: string, chorus: number[], naive: number[], cmp: "≤" | "≥", bound: number) {
    const c = median(chorus);
    const n = median(naive);
    const r = c / n;
    const ok = Number.isFinite(r) ? (cmp === "≤" ? r <= bound : r >= bound) : undefined;
    this.add({ target: `${target}: ${cmp} ${bound}×`, figure: `${fmt(c)} / ${fmt(n)} ${unit}`, ratio: `${Number.isFinite(r) ? r.toFixed(2) : "–"}×`, ok });
  }

  /** A figure against an absolute bound. */
  bound(target: string, unit: string, values: number[], cmp: "≤" | "≥", bound: number) {
    const v = median(values);
    const ok = Number.isFinite(v) ? (cmp === "≤" ? v <= bound : v >= bound) : undefined;
    this.add({ target: `${target}: ${cmp} ${bound} ${unit}`, figure: `${fmt(v)} ${unit}`, ratio: "", ok });
  }

  /** A figure within ±pct % of a base figure. */
  within(target: string, unit: string, values: number[], base: number[], pct: number) {
    const r = median(values) / median(base);
    const ok = Number.isFinite(r) ? Math.abs(r - 1) <= pct / 100 : undefined;
    const note = ok === false && r < 1 ? "cheaper" : undefined;
    this.add({ target: `${target}: within ±${pct} %`, figure: `${fmt(median(values))} vs ${fmt(median(base))} ${unit}`, ratio: `${Number.isFinite(r) ? r.toFixed(2) : "–"}×`, ok, ...(note ? { note } : {}) });
  }

  /** Growth of a cost against the growth of what drives it: ok when cost grows no faster. */
  growth(target: string, cost: number[], costBase: number[], driver: number[], driverBase: number[]) {
    const c = median(cost) / median(costBase);
    const d = median(driver) / median(driverBase);
    const ok = Number.isFinite(c) && Number.isFinite(d) ? c <= d : undefined;
    this.add({ target: `${target}: CPU growth ≤ bytes-upstream growth`, figure: `CPU ×${fmt(c)}, bytes ×${fmt(d)}`, ratio: `${(c / d).toFixed(2)}`, ok });
  }

  /** A target this run could not measure, and why. */
  missing(target: string, why: string) {
    this.add({ target, figure: why, ratio: "", ok: undefined });
  }

  markdown(): string[] {
    return [
      "| target | figure (Chorus / naive when a ratio) | ratio | result |",
      "|---|---|---|---|",
      ...this.lines.map((l) => `| ${l.target} | ${l.figure} | ${l.ratio} | ${l.ok === undefined ? "not measured" : l.ok ? "ok" : "**short**"}${l.note ? ` (${l.note})` : ""} |`),
    ];
  }
}
