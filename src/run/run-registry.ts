// The runs a client can reach by message_id: in flight (joinable by a duplicate POST,
// cancellable) and finished (replayable for RUN_RETENTION_S, at most MAX_RETAINED_RUNS kept
// here). With Redis, runs held by other instances are reachable too, and an id is claimed
// atomically so no two instances ever run it at once.
import { createHash } from "node:crypto";
import { ApiError, storeUnavailable } from "../errors.js";
import type { RedisRuns } from "../store/redis-runs.js";
import { EventLog, type Followable } from "./event-log.js";
import { RunAbort } from "./outcome.js";

/** What a route needs of a run, wherever it is held. */
export interface RunHandle {
  readonly id: string;
  readonly log: Followable;
  readonly inFlight: boolean;
}

export class Run implements RunHandle {
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

/** A run another instance holds (or held), read from Redis. */
class RemoteRun implements RunHandle {
  readonly log: Followable;
  constructor(
    readonly id: string,
    readonly inFlight: boolean,
    shared: RedisRuns,
  ) {
    this.log = { follow: (afterId, signal) => shared.follow(id, afterId, signal) };
  }
}

export interface RunRegistryOptions {
  retentionS: number;
  maxRetained: number;
  orphanGraceMs: number;
  /** Redis, when REDIS_URL is set. */
  shared?: RedisRuns;
}

/** Runs a run to its end: appends events to run.log; must not throw. */
export type Execute = (run: Run) => Promise<void>;

const fingerprint = (message: string) => createHash("sha256").update(message).digest("base64url").slice(0, 22);


export class RunRegistry {
  private runs = new Map<string, Run>();
  private finished = 0;
  private inFlightCount = 0;
  private idle: (() => void)[] = [];
  private shared: RedisRuns | undefined;

  constructor(private opts: RunRegistryOptions) {
    this.shared = opts.shared;
    this.shared?.on("cancel", (id) => {
      const run = this.runs.get(id);
      if (run?.inFlight) run.controller.abort(new RunAbort("cancelled"));
    });
    this.shared?.on("orphan", (id) => {
      const run = this.runs.get(id);
      if (run?.inFlight && run.followers === 0) this.scheduleOrphanCancel(run);
    });
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** A run held by this instance. */
  get(id: string): Run | undefined {
    return this.runs.get(id);
  }

  /**
   * Starts a run, or joins the one in flight with the same id and message, here or on another
   * instance (no second set of LLM calls). A different message while in flight is a 409.
   */
  async start(id: string, message: string, execute: Execute): Promise<{ run: RunHandle; joined: boolean }> {
    const conflict = () =>
      new ApiError("message_id_conflict", `a run with message_id "${id}" is in flight with a different message`);
    const existing = this.runs.get(id);
    if (existing?.inFlight) {
      if (existing.message !== message) throw conflict();
      return { run: existing, joined: true };
    }
    if (this.shared) {
      const fp = fingerprint(message);
      const claim = await this.shared.claim(id, fp).catch(() => {
        throw storeUnavailable();
      });
      if (!claim.claimed) {
        if (claim.fingerprint !== fp) throw conflict();
        return { run: new RemoteRun(id, true, this.shared), joined: true };
      }
    }
    // Claimed meanwhile by a concurrent local POST? Join it.
    const raced = this.runs.get(id);
    if (raced?.inFlight) {
      if (raced.message !== message) throw conflict();
      return { run: raced, joined: true };
    }
    if (raced) {
      this.runs.delete(id);
      this.finished--;
    }
    const run = new Run(id, message);
    if (this.shared) {
      const shared = this.shared;
      run.log.onAppend = (ev) => shared.publish(id, ev);
    }
    this.runs.set(id, run);
    this.inFlightCount++;
    void execute(run).finally(() => this.finish(run));
    return { run, joined: false };
  }

  /** A run to resume: held here, or known to Redis. */
  async open(id: string): Promise<RunHandle | undefined> {
    const local = this.runs.get(id);
    if (local || !this.shared) return local;
    const info = await this.shared.info(id).catch(() => {
      throw storeUnavailable();
    });
    return info && new RemoteRun(id, info.inFlight, this.shared);
  }

  /** Counts a client following the run; the returned function releases it. */
  follow(run: RunHandle): () => void {
    let released = false;
    if (!(run instanceof Run)) {
      void this.shared!.addFollower(run.id);
      return () => {
        if (released) return;
        released = true;
        void this.shared!.removeFollower(run.id);
      };
    }
    run.followers++;
    clearTimeout(run.orphanTimer);
    return () => {
      if (released) return;
      released = true;
      if (--run.followers > 0 || !run.inFlight) return;
      this.scheduleOrphanCancel(run);
    };
  }

  /** The last follower left: cancel after the grace, unless someone (here or elsewhere) follows again. */
  private scheduleOrphanCancel(run: Run): void {
    const cancel = async () => {
      if (run.followers > 0 || !run.inFlight) return;
      if (this.shared && (await this.shared.remoteFollowers(run.id)) > 0) return;
      if (run.followers === 0) run.controller.abort(new RunAbort("cancelled"));
    };
    clearTimeout(run.orphanTimer);
    if (this.opts.orphanGraceMs === 0 && !this.shared) void cancel();
    else run.orphanTimer = setTimeout(() => void cancel(), this.opts.orphanGraceMs);
  }

  /** DELETE: resolves when cancelled (202); 409 when it had ended, 404 when unknown. */
  async cancel(id: string): Promise<void> {
    const run = await this.open(id);
    if (!run) throw new ApiError("run_not_found", `no run with message_id "${id}"`);
    if (!run.inFlight) throw new ApiError("run_finished", `the run "${id}" has already ended`);
    if (run instanceof Run) run.controller.abort(new RunAbort("cancelled"));
    else await this.shared!.cancel(id).catch(() => {
      throw storeUnavailable();
    });
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
    if (this.inFlightCount === 0) return;
    const stopped = new Promise<void>((resolve) => this.idle.push(resolve));
    for (const r of this.runs.values()) if (r.inFlight) r.controller.abort(new RunAbort("shutting_down"));
    await stopped;
  }

  private finish(run: Run): void {
    run.endedAt = Date.now();
    clearTimeout(run.orphanTimer);
    if (!run.log.ended) run.log.end();
    this.finished++;
    if (--this.inFlightCount === 0) for (const f of this.idle.splice(0)) f();
    setTimeout(() => {
      if (this.runs.get(run.id) !== run) return;
      this.runs.delete(run.id);
      this.finished--;
    }, this.opts.retentionS * 1000).unref();
    this.evict();
  }

  /** Keeps at most maxRetained finished runs, dropping the oldest first. */
  private evict(): void {
    if (this.finished <= this.opts.maxRetained) return;
    for (const [id, r] of this.runs) {
      if (!r.inFlight) {
        this.runs.delete(id);
        if (--this.finished <= this.opts.maxRetained) return;
      }
    }
  }
}
