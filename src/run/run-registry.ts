// The runs this process knows, keyed by message_id: in flight (joinable by a duplicate POST,
// cancellable) and finished (replayable for RUN_RETENTION_S, at most MAX_RETAINED_RUNS kept).
import { ApiError } from "../errors.js";
import { EventLog } from "./event-log.js";
import { RunAbort } from "./fan-out.js";

export class Run {
  readonly log = new EventLog();
  readonly controller = new AbortController();
  readonly startedAt = Date.now();
  endedAt: number | undefined;
  followers = 0;
  orphanTimer: NodeJS.Timeout | undefined;
  constructor(
    readonly id: string,
    readonly message: string,
  ) {}
  get inFlight(): boolean {
    return this.endedAt === undefined;
  }
}

export interface RunRegistryOptions {
  retentionS: number;
  maxRetained: number;
  orphanGraceMs: number;
}

/** Runs a run to its end: appends events to run.log; must not throw. */
export type Execute = (run: Run) => Promise<void>;

export class RunRegistry {
  private runs = new Map<string, Run>();
  private inFlightCount = 0;
  private idle: (() => void)[] = [];

  constructor(private opts: RunRegistryOptions) {}

  get inFlight(): number {
    return this.inFlightCount;
  }

  get(id: string): Run | undefined {
    return this.runs.get(id);
  }

  /**
   * Starts a run, or joins the one in flight with the same id and message (no second set
   * of LLM calls). A different message while in flight is a 409.
   */
  startOrJoin(id: string, message: string, execute: Execute): { run: Run; joined: boolean } {
    const existing = this.runs.get(id);
    if (existing?.inFlight) {
      if (existing.message !== message) {
        throw new ApiError(409, "message_id_conflict", `a run with message_id "${id}" is in flight with a different message`);
      }
      return { run: existing, joined: true };
    }
    if (existing) this.runs.delete(id);
    const run = new Run(id, message);
    this.runs.set(id, run);
    this.inFlightCount++;
    void execute(run).finally(() => this.finish(run));
    return { run, joined: false };
  }

  /** Counts a client following the run; the returned function releases it. */
  follow(run: Run): () => void {
    run.followers++;
    clearTimeout(run.orphanTimer);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--run.followers > 0 || !run.inFlight) return;
      // The last follower left: cancel after the grace, unless someone resumes meanwhile.
      const cancel = () => run.followers === 0 && run.controller.abort(new RunAbort("cancelled"));
      if (this.opts.orphanGraceMs === 0) cancel();
      else run.orphanTimer = setTimeout(cancel, this.opts.orphanGraceMs);
    };
  }

  /** DELETE: 202 when cancelled, 409 when it had ended, 404 when unknown. */
  cancel(id: string): void {
    const run = this.runs.get(id);
    if (!run) throw new ApiError(404, "run_not_found", `no run with message_id "${id}"`);
    if (!run.inFlight) throw new ApiError(409, "run_finished", `the run "${id}" has already ended`);
    run.controller.abort(new RunAbort("cancelled"));
  }

  /** Resolves when no run is in flight, or after `ms`; then aborts what is left with shutting_down. */
  async drain(ms: number): Promise<void> {
    if (this.inFlightCount > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        this.idle.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const left = [...this.runs.values()].filter((r) => r.inFlight);
    for (const r of left) r.controller.abort(new RunAbort("shutting_down"));
    await Promise.all(left.map((r) => this.ended(r)));
  }

  private ended(run: Run): Promise<void> {
    if (!run.inFlight) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => (run.inFlight ? setTimeout(check, 5) : resolve());
      check();
    });
  }

  private finish(run: Run): void {
    run.endedAt = Date.now();
    clearTimeout(run.orphanTimer);
    if (!run.log.ended) run.log.end();
    if (--this.inFlightCount === 0) for (const f of this.idle.splice(0)) f();
    setTimeout(() => this.runs.get(run.id) === run && this.runs.delete(run.id), this.opts.retentionS * 1000).unref();
    this.evict();
  }

  /** Keeps at most maxRetained finished runs, dropping the oldest first. */
  private evict(): void {
    let finished = 0;
    for (const r of this.runs.values()) if (!r.inFlight) finished++;
    for (const [id, r] of this.runs) {
      if (finished <= this.opts.maxRetained) break;
      if (!r.inFlight) {
        this.runs.delete(id);
        finished--;
      }
    }
  }
}
