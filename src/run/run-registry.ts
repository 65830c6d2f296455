// The runs a client can reach by message_id: in flight (joinable by a duplicate POST,
// cancellable) and finished (replayable for RUN_RETENTION_S, at most MAX_RETAINED_RUNS kept
// here). The run store (chosen once: memory or Redis) makes runs held by other replicas
// reachable too, claims ids so no two replicas run one at once, and hands over the runs of a
// replica that died: this registry takes them over when a client follows one, and in a
// background sweep for runs nobody follows.
import { createHash } from "node:crypto";
import { ApiError, storeUnavailable } from "../errors.js";
import type { OnDisconnect, RunStore, StoredRequest } from "../store/runs.js";
import { EventLog, type Followable } from "./event-log.js";
import type { RunEvent } from "./events.js";
import { RunAbort } from "./outcome.js";

/** What a route needs of a run, wherever it is held. */
export interface RunHandle {
  readonly id: string;
  readonly log: Followable;
  readonly inFlight: boolean;
}

export class Run implements RunHandle {
  readonly log: EventLog;
  readonly controller = new AbortController();
  readonly startedAt = Date.now();
  endedAt: number | undefined;
  followers = 0;
  orphanTimer: NodeJS.Timeout | undefined;
  constructor(
    readonly id: string,
    readonly fingerprint: string,
    readonly onDisconnect: OnDisconnect,
    prior?: RunEvent[],
  ) {
    this.log = new EventLog(prior);
  }
  get inFlight(): boolean {
    return this.endedAt === undefined;
  }
}

/** A run held (or once held) by another replica; `follow` counts its followers there. */
class RemoteRun implements RunHandle {
  constructor(
    readonly id: string,
    readonly inFlight: boolean,
    readonly log: Followable,
  ) {}
}

export interface RunRegistryOptions {
  retentionS: number;
  maxRetained: number;
  orphanGraceMs: number;
  /** ON_DISCONNECT: what a run does when its last client leaves, unless its request says. */
  onDisconnect: OnDisconnect;
  store: RunStore;
  /** How often to look for runs whose owner died (0: never). */
  sweepMs: number;
}

/** Runs a run to its end: appends events to run.log; must not throw. `prior`: the events of a run taken over. */
export type Execute = (run: Run, request: StoredRequest, prior?: RunEvent[]) => Promise<void>;

const fingerprint = (message: string) => createHash("sha256").update(message).digest("base64url").slice(0, 22);

export class RunRegistry {
  private runs = new Map<string, Run>();
  private finished = 0;
  private inFlightCount = 0;
  private idle: (() => void)[] = [];
  private store: RunStore;
  private execute: Execute = async () => {};
  private draining = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private opts: RunRegistryOptions) {
    this.store = opts.store;
    this.store.on("cancel", (id) => this.abort(id, new RunAbort("cancelled")));
    this.store.on("orphan", (id) => {
      const run = this.runs.get(id);
      if (run?.inFlight && run.followers === 0) this.scheduleOrphanCancel(run);
    });
    if (opts.sweepMs > 0) this.sweeper = setInterval(() => void this.sweep(), opts.sweepMs).unref();
  }

  /** Set once at composition (the runner needs the registry, the registry runs what the runner executes). */
  bind(execute: Execute): void {
    this.execute = execute;
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
  async start(request: StoredRequest): Promise<{ run: RunHandle; joined: boolean }> {
    const id = request.messageId;
    const fp = fingerprint(request.message);
    const conflict = () =>
      new ApiError("message_id_conflict", `a run with message_id "${id}" is in flight with a different message`);
    const local = () => {
      const existing = this.runs.get(id);
      if (!existing?.inFlight) return undefined;
      if (existing.fingerprint !== fp) throw conflict();
      return { run: existing, joined: true };
    };
    const joined = local();
    if (joined) return joined;
    const claim = await this.store.claim(id, fp, request).catch(() => {
      throw storeUnavailable();
    });
    if (!claim.claimed) {
      if (claim.fingerprint !== fp) throw conflict();
      return { run: local()?.run ?? this.remote(id, true), joined: true };
    }
    // Claimed meanwhile by a concurrent local POST? Join it.
    const raced = local();
    if (raced) return raced;
    return { run: this.launch(request, fp), joined: false };
  }

  private launch(request: StoredRequest, fp: string, prior?: RunEvent[]): Run {
    const id = request.messageId;
    const old = this.runs.get(id);
    if (old) {
      this.runs.delete(id);
      this.finished--;
    }
    const run = new Run(id, fp, request.onDisconnect, prior);
    this.store.hold(id, run.log, () => {
      // Another replica owns it now: from here its clients find it through the store.
      if (this.runs.get(id) === run) this.runs.delete(id);
      run.controller.abort(new RunAbort("cancelled", "another replica took the run over"));
    });
    this.runs.set(id, run);
    this.inFlightCount++;
    void this.execute(run, request, prior).finally(() => this.finish(run));
    // Taken over: its clients, if any, follow it through the store; none may come back.
    if (prior) this.scheduleOrphanCancel(run);
    return run;
  }

  /** A run to resume: held here, or known to the store. */
  async open(id: string): Promise<RunHandle | undefined> {
    const local = this.runs.get(id);
    if (local) return local;
    const info = await this.store.info(id).catch(() => {
      throw storeUnavailable();
    });
    return info && this.remote(id, info.inFlight);
  }

  private remote(id: string, inFlight: boolean): RunHandle {
    return new RemoteRun(id, inFlight, { follow: (afterId, signal) => this.store.follow(id, afterId, signal, () => this.takeOver(id)) });
  }

  /** Carries on a run whose owner died; a no-op when another replica got it first. */
  private async takeOver(id: string): Promise<void> {
    if (this.draining || this.runs.get(id)?.inFlight) return;
    const taken = await this.store.takeOver(id).catch(() => undefined);
    if (!taken || this.runs.get(id)?.inFlight) return;
    this.launch(taken.request, fingerprint(taken.request.message), taken.events);
  }

  private async sweep(): Promise<void> {
    const ids = await this.store.orphaned().catch(() => []);
    for (const id of ids) await this.takeOver(id);
  }

  /** Counts a client following the run; the returned function releases it. */
  follow(run: RunHandle): () => void {
    if (!(run instanceof Run)) return this.store.addFollower(run.id);
    let released = false;
    run.followers++;
    clearTimeout(run.orphanTimer);
    return () => {
      if (released) return;
      released = true;
      if (--run.followers > 0 || !run.inFlight) return;
      this.scheduleOrphanCancel(run);
    };
  }

  /** Nobody follows the run here: unless it goes on without clients, cancel it after the grace, unless someone (here or elsewhere) follows again. */
  private scheduleOrphanCancel(run: Run): void {
    if (run.onDisconnect === "continue") return;
    const cancel = async () => {
      if (run.followers > 0 || !run.inFlight) return;
      if ((await this.store.remoteFollowers(run.id)) > 0) return;
      if (run.followers === 0) run.controller.abort(new RunAbort("cancelled"));
    };
    clearTimeout(run.orphanTimer);
    run.orphanTimer = setTimeout(() => void cancel(), this.opts.orphanGraceMs);
  }

  private abort(id: string, reason: RunAbort): void {
    const run = this.runs.get(id);
    if (run?.inFlight) run.controller.abort(reason);
  }

  /** DELETE: resolves when cancelled (202); 409 when it had ended, 404 when unknown. */
  async cancel(id: string): Promise<void> {
    const run = await this.open(id);
    if (!run) throw new ApiError("run_not_found", `no run with message_id "${id}"`);
    if (!run.inFlight) throw new ApiError("run_finished", `the run "${id}" has already ended`);
    // Its owner may have died: take it over first (a no-op while its lease holds), so the cancel lands.
    if (!(run instanceof Run)) await this.takeOver(id);
    if (this.runs.get(id)?.inFlight) return this.abort(id, new RunAbort("cancelled"));
    await this.store.cancel(id).catch(() => {
      throw storeUnavailable();
    });
  }

  /** Resolves when no run is in flight, or after `ms`; then aborts what is left with shutting_down. */
  async drain(ms: number): Promise<void> {
    this.draining = true;
    clearInterval(this.sweeper);
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

  close(): void {
    clearInterval(this.sweeper);
  }

  private finish(run: Run): void {
    run.endedAt = Date.now();
    clearTimeout(run.orphanTimer);
    if (!run.log.ended) run.log.end();
    if (--this.inFlightCount === 0) for (const f of this.idle.splice(0)) f();
    // Lost to another replica: its clients must find the run through the store from now on.
    if (run.log.lost) {
      if (this.runs.get(run.id) === run) this.runs.delete(run.id);
      return;
    }
    this.finished++;
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
