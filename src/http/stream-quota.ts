// MAX_STREAMS_PER_CLIENT: open SSE streams per caller (API key or IP). One greedy client
// cannot hold every socket; past the bound it gets a 429 at once.
import { ApiError } from "../errors.js";

export interface StreamQuota {
  /** Counts one more open stream for `key`; the returned function gives it back (idempotent). */
  open(key: string): () => void;
}

export function createStreamQuota(max: number): StreamQuota {
  const open = new Map<string, number>();
  return {
    open(key) {
      const n = open.get(key) ?? 0;
      if (n >= max) {
        throw new ApiError("rate_limited", `too many open streams for this client (at most ${max})`);
      }
      open.set(key, n + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = open.get(key)! - 1;
        if (left === 0) open.delete(key);
        else open.set(key, left);
      };
    },
  };
}
