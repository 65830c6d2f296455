// The progress line of a long eval: items done, elapsed time, LLM calls made and money spent.
// On a terminal one line is redrawn in place; elsewhere (a pipe, CI) a plain line is printed
// every tenth of the way, so logs stay short.
import type { Writable } from "node:stream";
import { usd } from "./format.js";

export interface Counts {
  answers: number;
  verdicts: number;
  calls: number;
  spentUsd: number;
}

const BAR = 24;

export class Progress {
  private readonly started = performance.now();
  private lastDecile = -1;
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly out: Writable & { isTTY?: boolean },
    private readonly total: { answers: number; verdicts: number },
  ) {}

  line(c: Counts): string {
    const all = this.total.answers + this.total.verdicts;
    const done = c.answers + c.verdicts;
    const filled = all ? Math.round((done / all) * BAR) : BAR;
    const s = Math.floor((performance.now() - this.started) / 1000);
    const clock = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    return `[${"#".repeat(filled)}${".".repeat(BAR - filled)}] ${c.answers}/${this.total.answers} answers · ${c.verdicts}/${this.total.verdicts} verdicts · ${clock} elapsed · ${c.calls} calls · ${usd(c.spentUsd)} spent`;
  }

  update(c: Counts): void {
    const all = this.total.answers + this.total.verdicts;
    const done = c.answers + c.verdicts;
    if (this.out.isTTY) {
      const now = performance.now();
      if (now - this.lastDraw < 100 && done < all) return;
      this.lastDraw = now;
      this.drawn = true;
      this.out.write(`\r\x1b[K${this.line(c)}`);
      return;
    }
    const decile = all ? Math.floor((done / all) * 10) : 10;
    if (decile === this.lastDecile) return;
    this.lastDecile = decile;
    this.out.write(`${this.line(c)}\n`);
  }

  /** Ends the redrawn line, so what follows starts on its own. */
  close(): void {
    if (this.drawn) this.out.write("\n");
    this.drawn = false;
  }
}
