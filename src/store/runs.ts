// Where runs are kept beyond the replica that holds them: one interface, chosen once at
// composition (like conversations.ts). In memory a replica is alone: every id it claims is its
// own, nobody else follows its runs, nothing is taken over. With Redis (redis-runs.ts) runs are
// claimed under a lease, their events written through a fenced append, followed and cancelled
// from any replica, and taken over when their owner dies.
import type { ChatMessage } from "../llm/llm-client.js";
import type { EventLog } from "../run/event-log.js";
import type { RunEvent } from "../run/events.js";

export type OnDisconnect = "cancel" | "continue";

/** A run's request as kept for a takeover: everything another replica needs to carry it on. */
export interface StoredRequest {
  messageId: string;
  message: string;
  agents?: string[];
  streamAgents: boolean;
  history?: ChatMessage[];
  /** The conversation and the place its turn was given when the run started. */
  conversation?: { id: string; seq: number };
  onDisconnect: OnDisconnect;
  requestId?: string;
  /** The preset and the request's overrides of it: the plan is resolved again from them. */
  preset?: string;
  strategy?: "summarize" | "council" | "fusion";
  rounds?: number;
  maxCostUsd?: number;
}

export type Claim = { claimed: true } | { claimed: false; fingerprint: string };

/** A run taken over from a replica that stopped renewing its lease. */
export interface TakenRun {
  request: StoredRequest;
  /** Everything it had logged, oldest first. */
  events: RunEvent[];
}

export interface RunStore {
  /** Claims `id` for a new run held here, unless a run with it is in flight anywhere. */
  claim(id: string, fingerprint: string, request: StoredRequest): Promise<Claim>;
  /** Keeps `log`'s events (confirming them into it) and the run's lease while it lasts; `lost` when another replica owns it now. */
  hold(id: string, log: EventLog, lost: () => void): void;
  /** What the store knows of a run this replica does not hold. */
  info(id: string): Promise<{ inFlight: boolean } | undefined>;
  /** A held-elsewhere run's events after `afterId`, live; `ownerGone` is awaited when its lease lapsed. */
  follow(id: string, afterId: number, signal: AbortSignal, ownerGone: () => Promise<void>): AsyncGenerator<RunEvent[]>;
  /** Takes over a run whose owner stopped renewing its lease; undefined when another replica did, or it ended. */
  takeOver(id: string): Promise<TakenRun | undefined>;
  /** Runs whose lease has lapsed (for the background sweep). */
  orphaned(): Promise<string[]>;
  /** Asks the run's owner, wherever it is, to cancel it. */
  cancel(id: string): Promise<void>;
  /** Counts a client following the run on this replica for its owner; returns the release. */
  addFollower(id: string): () => void;
  /** Clients following the run on replicas that do not hold it. */
  remoteFollowers(id: string): Promise<number>;
  /** Signals from other replicas: cancel a run held here; its last remote follower left. */
  on(type: "cancel" | "orphan", handler: (id: string) => void): void;
  ping(): Promise<void>;
  close(): void;
}

export function memoryRuns(): RunStore {
  return {
    claim: async () => ({ claimed: true }),
    hold: () => {}, // the log confirms its own events
    info: async () => undefined,
    async *follow() {},
    takeOver: async () => undefined,
    orphaned: async () => [],
    cancel: async () => {},
    addFollower: () => () => {},
    remoteFollowers: async () => 0,
    on: () => {},
    ping: async () => {},
    close: () => {},
  };
}
