// How the command-line client shows a run: one JSON line per event for scripts, or for people a
// line per agent (redrawn in place with a spinner on a terminal, printed once finished
// otherwise), then the summary as it streams, then a status line.
import type { RunEvent } from "../run/events.js";
import { analysisLines, rankingLines, reviewErrorLine, reviewLine } from "./stage-lines.js";

export type { RunEvent } from "../run/events.js";

export interface RunView {
  show(ev: RunEvent): void;
  /** The stream is over: stop timers and leave the terminal tidy. */
  close(): void;
}

/** The parts of a stream the views use; process.stdout fits. */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class JsonView implements RunView {
  constructor(private readonly out: Output) {}
  show(ev: RunEvent): void {
    this.out.write(`${JSON.stringify({ id: ev.id, event: ev.event, data: ev.data })}\n`);
  }
  close(): void {}
}

export function formatMs(ms: unknown): string {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "?";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

const round = (r: number | undefined) => (r === undefined ? "" : ` (round ${r})`);

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const FAILED_AS: Record<string, string> = { error: "failed", timeout: "timed out", cancelled: "cancelled" };

interface Lane {
  name: string;
  finished: boolean;
  /** The line's text after the name, e.g. "562 ms" or "upstream_error: ... (17 ms)". */
  detail: string;
  mark: string;
}

export class HumanView implements RunView {
  private lanes: Lane[] = [];
  private nameWidth = 0;
  /** The agents' block is on screen and may still be redrawn (TTY only). */
  private drawn = false;
  private sealed = false;
  private spinner: NodeJS.Timeout | undefined;
  private frame = 0;
  private summaryStarted = false;
  private readonly tty: boolean;

  constructor(
    private readonly out: Output,
    private readonly err: Output,
  ) {
    this.tty = out.isTTY === true;
  }

  show(ev: RunEvent): void {
    switch (ev.event) {
      case "start":
        this.lanes = ev.data.agents.map((name) => ({ name, finished: false, detail: "waiting", mark: " " }));
        this.nameWidth = Math.max(0, ...this.lanes.map((l) => l.name.length));
        if (this.tty && this.lanes.length) {
          this.redraw();
          this.spinner = setInterval(() => this.redraw(), 100);
          this.spinner.unref();
        }
        break;
      case "agent_start":
        this.update(ev.data.agent, false, " ", `working${round(ev.data.round)}`);
        break;
      case "agent_done":
        this.update(ev.data.agent, true, "✓", `done in ${formatMs(ev.data.latency_ms)}${round(ev.data.round)}`);
        break;
      case "agent_error": {
        const d = ev.data;
        this.update(d.agent, true, "✗", `${FAILED_AS[d.status] ?? "failed"} after ${formatMs(d.latency_ms)}${round(d.round)} (${d.error.code}: ${d.error.message})`);
        break;
      }
      // The later stages print below the agents' block, once each is final.
      case "review_start":
        if (!this.sealed) {
          this.seal();
          this.out.write("reviews (answers anonymised and shuffled for each reviewer):\n");
        }
        break;
      case "review_done":
        this.stage([reviewLine(ev.data, formatMs(ev.data.latency_ms))]);
        break;
      case "review_error":
        this.stage([reviewErrorLine(ev.data, formatMs(ev.data.latency_ms))]);
        break;
      case "ranking":
        this.stage(rankingLines(ev.data));
        break;
      case "analysis":
        this.stage(analysisLines(ev.data));
        break;
      case "analysis_error":
        this.stage([`judge failed (${ev.data.error.code}: ${ev.data.error.message}); the summary is made without its analysis`]);
        break;
      case "summary_delta":
        this.startSummary();
        this.out.write(ev.data.delta);
        break;
      case "summary_restart":
        // Text already printed cannot be taken back: say that what follows replaces it.
        if (this.summaryStarted) this.out.write(`\n\n[the summary starts over (${ev.data.reason.code}): ignore the text above]\n\n`);
        break;
      case "takeover":
        this.err.write(`(another server took the run over${ev.data.rerun.length ? `; asking again: ${ev.data.rerun.join(", ")}` : ""})\n`);
        break;
      case "done": {
        const d = ev.data;
        // With --last-event-id past the summary's tokens, none were printed: show it whole.
        if (!this.summaryStarted && d.summary) {
          this.startSummary();
          this.out.write(String(d.summary));
        }
        this.seal();
        const { ok } = d.agents;
        const total = ok + d.agents.failed;
        const who = ok === total && total > 1 ? `all ${total} agents answered` : `${ok} of ${total} agent${total === 1 ? "" : "s"} answered`;
        const strategy = d.strategy && d.strategy !== "summarize" ? ` · ${d.strategy}` : "";
        const cost = d.cost_usd !== undefined ? ` · $${d.cost_usd.toFixed(6)}` : "";
        this.out.write(`${this.summaryStarted ? "\n\n" : ""}status: ${d.status} — ${who}${strategy} · total ${formatMs(d.latency_ms)}${cost}\n`);
        if (d.degraded) {
          const parts = [...(d.degraded.failed_agents.length ? [`failed: ${d.degraded.failed_agents.join(", ")}`] : []), ...(d.degraded.skipped.length ? [`skipped: ${d.degraded.skipped.join(", ")}`] : [])];
          this.out.write(`degraded: ${parts.join("; ")}\n`);
        }
        break;
      }
      case "error":
        this.seal();
        if (this.summaryStarted) this.out.write("\n");
        this.err.write(`error: ${ev.data.code}: ${ev.data.message}\n`);
        break;
    }
  }

  close(): void {
    this.seal();
  }

  private stage(lines: string[]): void {
    this.seal();
    this.out.write(`${lines.join("\n")}\n`);
  }

  private update(agent: string, finished: boolean, mark: string, detail: string): void {
    const lane = this.lanes.find((l) => l.name === agent);
    if (!lane || this.sealed) {
      // An agent we have no line for (resumed past `start`): print it once it is final.
      if (finished) this.out.write(`${this.line({ name: agent, finished, mark, detail })}\n`);
      return;
    }
    Object.assign(lane, { finished, mark, detail });
    if (this.tty) this.redraw();
    else if (finished) this.out.write(`${this.line(lane)}\n`);
  }

  private line(l: Lane): string {
    const mark = l.finished ? l.mark : this.tty ? SPINNER[this.frame % SPINNER.length]! : " ";
    const text = `${mark} ${l.name.padEnd(this.nameWidth)}  ${l.detail}`;
    // A line that wraps would break the cursor arithmetic of the redraw: cut it to the width.
    // (A pseudo-terminal with no size reports 0 columns.)
    const width = this.tty ? (this.out.columns || 80) - 1 : Infinity;
    return text.length > width ? `${text.slice(0, width - 1)}…` : text;
  }

  /** Rewrites the agents' block in place: up to its first line, then each line cleared and drawn. */
  private redraw(): void {
    if (this.sealed) return;
    this.frame++;
    let text = this.drawn ? `\x1b[${this.lanes.length}A` : "";
    for (const l of this.lanes) text += `\r\x1b[2K${this.line(l)}\n`;
    this.out.write(text);
    this.drawn = true;
  }

  /** No more redraws: the summary (or the end) is printed below the agents from here on. */
  private seal(): void {
    if (this.sealed) return;
    clearInterval(this.spinner);
    if (this.tty && this.drawn) this.redraw();
    this.sealed = true;
  }

  private startSummary(): void {
    if (this.summaryStarted) return;
    this.seal();
    this.summaryStarted = true;
    if (this.lanes.length || this.drawn) this.out.write("\n");
  }
}
