// Requests-per-minute budgets per upstream endpoint+model, so a fan-out (N+1 calls a run)
// waits its turn instead of provoking 429s. rate-limiter-flexible's queueing limiter does the
// work; a wait is bounded by the call's own time budget.
import { RateLimiterMemory, RateLimiterQueue } from "rate-limiter-flexible";
import { CallError } from "../errors.js";
import type { UpstreamTarget } from "./upstream-target.js";

export interface UpstreamBudgets {
  /** Resolves when `target` may send one request; rejects with rate_limited when `deadline` aborts first. */
  acquire(target: UpstreamTarget, deadline: AbortSignal): Promise<void>;
}

export function createUpstreamBudgets(maxQueue = 10_000): UpstreamBudgets {
  const queues = new Map<string, RateLimiterQueue>();
  return {
    async acquire(target, deadline) {
      if (target.rpm <= 0) return;
      let queue = queues.get(target.label);
      if (!queue) {
        queue = new RateLimiterQueue(new RateLimiterMemory({ points: target.rpm, duration: 60 }), { maxQueueSize: maxQueue });
        queues.set(target.label, queue);
      }
      const refused = () => new CallError("rate_limited", `no request budget left for ${target.model} within the call's time limit`);
      if (deadline.aborted) throw refused();
      let onAbort!: () => void;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(refused());
        deadline.addEventListener("abort", onAbort, { once: true });
      });
      // A token still granted after we gave up is spent: a conservative error, never an overshoot.
      const granted = queue.removeTokens(1).then(
        () => undefined,
        () => {
          throw new CallError("rate_limited", `too many calls queued for ${target.model}`);
        },
      );
      try {
        await Promise.race([granted, aborted]);
      } finally {
        deadline.removeEventListener("abort", onAbort);
        aborted.catch(() => {});
        granted.catch(() => {});
      }
    },
  };
}
