// Conversations on top of the runner: a run with a conversation_id sees the conversation's
// earlier turns (bounded, oldest dropped first) and, when it ends ok or partial, appends its
// own turn in its start-order place. A failed run appends nothing.
import { storeUnavailable } from "../errors.js";
import type { ConversationStore } from "../store/conversations.js";
import { historyMessages } from "../store/conversations.js";
import type { RunHandle } from "./run-registry.js";
import type { Runner } from "./runner.js";

export interface HistoryBounds {
  maxTurns: number;
  maxChars: number;
}

export function withConversations(runner: Runner, store: ConversationStore, bounds: HistoryBounds, onError: (err: unknown) => void): Runner {
  const recordTurn = async (run: RunHandle, conversationId: string, seq: number, message: string) => {
    for await (const batch of run.log.follow(0, new AbortController().signal)) {
      const end = batch.find((e) => e.event === "done");
      if (end?.event !== "done") continue;
      const d = end.data;
      await store
        .append(conversationId, seq, { message_id: run.id, message, summary: d.summary, status: d.status, created_at: new Date().toISOString() })
        .catch(onError);
    }
  };

  return {
    async start(req) {
      if (!req.conversationId) return runner.start(req);
      const { seq, turns } = await store.begin(req.conversationId).catch(() => {
        throw storeUnavailable();
      });
      const history = [...historyMessages(turns, bounds.maxTurns, bounds.maxChars), ...(req.history ?? [])];
      const started = await runner.start({ ...req, history });
      // A joined run is recorded by whoever started it.
      if (!started.joined) void recordTurn(started.run, req.conversationId, seq, req.message);
      return started;
    },
    // Reads the history without taking a turn's place: a dry run appends nothing.
    async dryRun(req) {
      if (!req.conversationId) return runner.dryRun(req);
      const turns = await store.get(req.conversationId).catch(() => {
        throw storeUnavailable();
      });
      const history = [...historyMessages(turns ?? [], bounds.maxTurns, bounds.maxChars), ...(req.history ?? [])];
      return runner.dryRun({ ...req, history });
    },
  };
}
