// Runs waiting for upstream capacity, counted as runs, not calls: what MAX_QUEUED_RUNS bounds.
// A run waits while it has a call queued for a concurrency slot and none holding one: a run
// that is already being served is not queued, even if some of its calls wait their turn.
export interface WaitingRuns {
  /** A call of `run` starts waiting for a slot; call `served` once it has one, `done` when it ends. */
  enter(run: object): { served(): void; done(): void };
  readonly count: number;
}

export function createWaitingRuns(): WaitingRuns {
  const runs = new Map<object, { waiting: number; running: number }>();
  let queued = 0;
  const isQueued = (r: { waiting: number; running: number }) => r.waiting > 0 && r.running === 0;
  const update = (run: object, change: (r: { waiting: number; running: number }) => void) => {
    const r = runs.get(run) ?? { waiting: 0, running: 0 };
    const before = isQueued(r);
    change(r);
    queued += Number(isQueued(r)) - Number(before);
    if (r.waiting === 0 && r.running === 0) runs.delete(run);
    else runs.set(run, r);
  };
  return {
    enter(run) {
      update(run, (r) => r.waiting++);
      let state: "waiting" | "running" | "done" = "waiting";
      return {
        served() {
          if (state !== "waiting") return;
          state = "running";
          update(run, (r) => (r.waiting--, r.running++));
        },
        done() {
          if (state === "done") return;
          const was = state;
          state = "done";
          update(run, (r) => (was === "waiting" ? r.waiting-- : r.running--));
        },
      };
    },
    get count() {
      return queued;
    },
  };
}
