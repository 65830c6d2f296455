// Reads Prometheus text exposition: the value of one series, found by name and a subset of its
// labels (whatever their order), summed over the series that match.
export type Labels = Record<string, string>;

function parseLabels(s: string): Labels {
  const out: Labels = {};
  for (const m of s.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

export function sample(text: string, name: string, labels: Labels = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = parseLabels(m[2] ?? "");
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** Scrapes GET /metrics and returns a reader over it. */
export async function scrape(baseUrl: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${baseUrl}/metrics`, { headers });
  const text = await res.text();
  return { status: res.status, text, get: (name: string, labels?: Labels) => sample(text, name, labels) };
}
