// Who answers in an eval. A contender is written `preset:NAME`, `strategy:NAME` or `agent:NAME`
// (that agent alone: the single-model baseline) and becomes fields of the POST /api/process body.
export interface Contender {
  /** As the user wrote it; names the contender in the table, the report and the JSONL. */
  name: string;
  /** Merged into each request body. */
  request: { preset?: string; strategy?: string; agents?: string[] };
}

const STRATEGIES = ["summarize", "council", "fusion"];

export class ContenderError extends Error {}

export function parseContender(spec: string): Contender {
  const m = /^(preset|strategy|agent):([A-Za-z0-9_.-]{1,64})$/.exec(spec.trim());
  if (!m) throw new ContenderError(`contender "${spec}" must be preset:NAME, strategy:NAME or agent:NAME`);
  const [, kind, value] = m as unknown as [string, string, string];
  if (kind === "preset") return { name: `preset:${value}`, request: { preset: value } };
  if (kind === "agent") return { name: `agent:${value}`, request: { agents: [value] } };
  if (!STRATEGIES.includes(value)) throw new ContenderError(`strategy "${value}" must be one of ${STRATEGIES.join(", ")}`);
  return { name: `strategy:${value}`, request: { strategy: value } };
}

/** The contenders, baseline first, without duplicates (the baseline is never its own rival). */
export function contenderList(baseline: string, rivals: string[]): Contender[] {
  const base = parseContender(baseline);
  const list = [base];
  for (const spec of rivals) {
    const c = parseContender(spec);
    if (!list.some((x) => x.name === c.name)) list.push(c);
  }
  if (list.length < 2) throw new ContenderError("give at least one contender besides the baseline");
  return list;
}
