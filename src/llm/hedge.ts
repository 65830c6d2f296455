// Hedged first-token requests ("The Tail at Scale", Dean and Barroso): when a call's first token
// is later than the recent first-token times of its endpoint and model say it should be, a second
// attempt is sent; whichever answers first is kept and the other aborted at that moment. Only the
// wait for the first token is hedged (a token already streamed cannot be taken back), and hedges
// are bounded by a budget: a fraction of all calls, so a slow endpoint is never flooded.
import { CallError } from "../errors.js";
import type { ChatRequest, LlmClient, OnChunk } from "./llm-client.js";

export interface HedgeOptions {
  /** Hedges allowed per call (0.05: one call in 20 on average), LLM_HEDGE_BUDGET. */
  budget: number;
  /** Quantile of the recent first-token times past which (times `margin`) a call is hedged. */
  quantile?: number;
  /**
   * The window holds the first-token times of the attempts that answered, so a hedged straggler
   * is not in it: its p95 is that of the healthy calls, and some healthy calls are always past it.
   * Hedging only past p95 × margin spends the budget on stragglers, not on ordinary jitter.
   */
  margin?: number;
  /** First-token times kept per endpoint+model. */
  window?: number;
  /** No hedging before this many first-token times were seen for an endpoint+model. */
  minSamples?: number;
  /** Never hedge sooner than this (ms): a near-instant upstream is not worth a second call. */
  floorMs?: number;
  /** Unused budget saved up, in hedges: a burst of slow calls may use it. */
  burst?: number;
}

/** What happened to one call: read by guarded-call for usage and metrics. */
export interface HedgeReport {
  /** A second attempt was sent. Both were paid for (the loser's prompt at least). */
  hedged: boolean;
  /** Which attempt gave the answer, once one did. */
  winner?: "first" | "hedge";
}

/** Recent first-token times of one endpoint+model, as a ring; the threshold is recomputed now and then. */
class FirstTokenTimes {
  private readonly times: Float64Array;
  private count = 0;
  private next = 0;
  private sinceComputed = 0;
  private cached: number | undefined;
  constructor(
    size: number,
    private readonly quantile: number,
  ) {
    this.times = new Float64Array(size);
  }
  add(ms: number): void {
    this.times[this.next] = ms;
    this.next = (this.next + 1) % this.times.length;
    this.count = Math.min(this.count + 1, this.times.length);
    this.sinceComputed++;
  }
  /** The quantile of the window; sorting 200 numbers every 10 samples, not on every call. */
  threshold(minSamples: number): number | undefined {
    if (this.count < minSamples) return undefined;
    if (this.cached === undefined || this.sinceComputed >= 10) {
      const sorted = this.times.slice(0, this.count).sort();
      this.cached = sorted[Math.min(this.count - 1, Math.floor(this.quantile * this.count))]!;
      this.sinceComputed = 0;
    }
    return this.cached;
  }
}

interface Attempt {
  abort: AbortController;
  t0: number;
  /** Why it failed, once it did before any answer was chosen. */
  failure?: { error: unknown };
}

export class Hedger {
  private readonly opts: Required<HedgeOptions>;
  private readonly times = new Map<string, FirstTokenTimes>();
  private credit = 0;

  constructor(opts: HedgeOptions) {
    this.opts = { quantile: 0.95, margin: 1.25, window: 200, minSamples: 20, floorMs: 50, burst: 10, ...opts };
  }

  /** The hedge delay for `key` now, or undefined while too few first tokens were seen. */
  delayFor(key: string): number | undefined {
    const t = this.times.get(key)?.threshold(this.opts.minSamples);
    return t === undefined ? undefined : Math.max(this.opts.floorMs, t * this.opts.margin);
  }

  /**
   * `llm.stream(req, onChunk)`, hedged. `key` names the endpoint+model whose first-token times
   * set the threshold. The report is filled in as the call goes. The attempt whose first chunk
   * (or whose end) comes first is the answer: its chunks go to `onChunk`, the other is aborted.
   */
  stream(llm: LlmClient, req: ChatRequest, key: string, report: HedgeReport, onChunk: OnChunk): Promise<void> {
    this.credit = Math.min(this.opts.burst, this.credit + this.opts.budget);
    const times = this.times.get(key) ?? this.times.set(key, new FirstTokenTimes(this.opts.window, this.opts.quantile)).get(key)!;
    const delay = this.delayFor(key);
    return new Promise<void>((resolve, reject) => {
      const attempts: Attempt[] = [];
      let winner: Attempt | undefined;
      let timer: NodeJS.Timeout | undefined;
      const choose = (a: Attempt) => {
        winner = a;
        clearTimeout(timer);
        times.add(performance.now() - a.t0);
        report.winner = a === attempts[0] ? "first" : "hedge";
        for (const o of attempts) if (o !== a) o.abort.abort(new CallError("cancelled", "another attempt answered first"));
      };
      const launch = () => {
        const a: Attempt = { abort: new AbortController(), t0: performance.now() };
        attempts.push(a);
        const forward = () => a.abort.abort(req.signal.reason);
        if (req.signal.aborted) forward();
        else req.signal.addEventListener("abort", forward, { once: true });
        const ended = () => req.signal.removeEventListener("abort", forward);
        llm
          .stream({ ...req, signal: a.abort.signal }, (chunk) => {
            if (!winner) choose(a);
            if (winner === a) onChunk(chunk);
          })
          .then(
            () => {
              ended();
              if (!winner) choose(a);
              if (winner === a) resolve();
            },
            (error: unknown) => {
              ended();
              if (winner) return winner === a ? reject(error) : undefined;
              // No answer yet: the call fails once every attempt has (with the first's error),
              // and at once when no hedge was sent; a failure is an answer, not a reason to hedge.
              a.failure = { error };
              if (attempts.every((x) => x.failure)) {
                clearTimeout(timer);
                reject(attempts[0]!.failure!.error);
              }
            },
          );
      };
      launch();
      if (delay === undefined) return;
      timer = setTimeout(() => {
        if (winner || attempts[0]!.failure || this.credit < 1 || req.signal.aborted) return;
        this.credit -= 1;
        report.hedged = true;
        launch();
      }, delay);
    });
  }
}
