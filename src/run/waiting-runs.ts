// Runs waiting for upstream capacity (a concurrency slot), counted as runs, not calls: what
// MAX_QUEUED_RUNS bounds. A run is waiting while any of its calls waits for a slot.
export interface WaitingRuns {
  /** A call of `run` starts waiting; the returned function is called once it has a slot or gave up. */
  enter(run: object): () => void;
  readonly count: number;
}

export function createWaitingRuns(): WaitingRuns {
  const calls = new Map<object, number>();
  return {
    enter(run) {
      calls.set(run, (calls.get(run) ?? 0) + 1);
      let left = false;
      return () => {
        if (left) return;
        left = true;
        const n = calls.get(run)! - 1;
        if (n === 0) calls.delete(run);
        else calls.set(run, n);
      };
    },
    get count() {
      return calls.size;
    },
  };
}
