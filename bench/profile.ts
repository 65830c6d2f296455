// Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and says where the time went: the functions with
// the most self time; self time summed by area (a package, a node: module, a Chorus file, V8); and
// time by owner: each sample charged to the nearest package or Chorus file on its stack, so that
// e.g. a `writev` under Chorus's SSE writer counts for the writer, the same call under undici for undici.
//
//   node bench/dist/profile.js CPU.123.cpuprofile [root]
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  name: string;
  area: string;
  ms: number;
  /** Share of the busy time (all but idle). */
  pct: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  functions: ProfileLine[];
  areas: ProfileLine[];
  owners: ProfileLine[];
}

/** Which part of the stack a frame belongs to, e.g. `openai`, `node:http`, `chorus:run/event-log.js`. */
export function areaOf(url: string, functionName: string, root: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(V8 builtins)";
  if (url.startsWith("wasm://")) return "node:undici"; // llhttp, undici's HTTP parser
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith("node:")) {
    const mod = url.slice(5).replace(/^internal\/(deps\/)?/, "").split("/")[0]!;
    return `node:${mod.replace(/^_http_\w+$/, "http").replace(/^_stream_\w+$/, "streams")}`;
  }
  const path = url.replace(/^file:\/\//, "");
  if (path.startsWith(`${root}/dist/`)) return `chorus:${path.slice(root.length + 6)}`;
  return path.startsWith(root) ? path.slice(root.length + 1) : path;
}

/** A package or a Chorus file: code someone chose to call, as opposed to node: internals and V8. */
const isOwner = (area: string) => !area.startsWith("node:") && !area.startsWith("(");

export function summarizeProfile(file: string, root: string, top = 20): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const areaOfNode = (id: number) => {
    const f = byId.get(id)!.callFrame;
    return areaOf(f.url, f.functionName, root);
  };
  // The nearest package or Chorus file at or above a frame, if any (memoized: stacks share prefixes).
  const ownerCache = new Map<number, string | null>();
  const ownerAbove = (id: number): string | null => {
    let owner = ownerCache.get(id);
    if (owner === undefined) {
      const area = areaOfNode(id);
      const up = parent.get(id);
      owner = isOwner(area) ? area : up === undefined ? null : ownerAbove(up);
      ownerCache.set(id, owner);
    }
    return owner;
  };
  const self = new Map<number, number>();
  // timeDeltas[i] is the time from sample i-1 to sample i; it is charged to sample i-1's frame.
  for (let i = 0; i + 1 < p.samples.length; i++) {
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + p.timeDeltas[i + 1]! / 1000);
  }
  const fns = new Map<string, { area: string; ms: number }>();
  const areas = new Map<string, number>();
  const owners = new Map<string, number>();
  let idleMs = 0;
  let busyMs = 0;
  for (const [id, ms] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === "(idle)") {
      idleMs += ms;
      continue;
    }
    busyMs += ms;
    const area = areaOf(url, functionName, root);
    const name = `${functionName || "(anonymous)"}${url ? ` ${url.split("/").pop()}:${lineNumber + 1}` : ""}`;
    const key = `${area}|${name}`;
    const f = fns.get(key) ?? { area, ms: 0 };
    f.ms += ms;
    fns.set(key, f);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    // Nothing owns it (an event-loop callback, GC): it keeps its own area.
    const owner = ownerAbove(id) ?? area;
    owners.set(owner, (owners.get(owner) ?? 0) + ms);
  }
  const ranked = (m: Map<string, number>) =>
    [...m]
      .map(([name, ms]) => line(name, name, ms))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top);
  const line = (name: string, area: string, ms: number): ProfileLine => ({ name, area, ms, pct: (100 * ms) / busyMs });
  return {
    busyMs,
    idleMs,
    functions: [...fns]
      .map(([key, f]) => line(key.slice(key.indexOf("|") + 1), f.area, f.ms))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
    areas: ranked(areas),
    owners: ranked(owners),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = summarizeProfile(process.argv[2]!, process.argv[3] ?? process.cwd());
  console.log(`busy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms`);
  for (const l of s.areas) console.log(`${l.pct.toFixed(1).padStart(5)}%  ${l.name}`);
  console.log("\nby owner:");
  for (const l of s.owners) console.log(`${l.pct.toFixed(1).padStart(5)}%  ${l.name}`);
  console.log();
  for (const l of s.functions) console.log(`${l.pct.toFixed(1).padStart(5)}%  ${l.name}  [${l.area}]`);
}
