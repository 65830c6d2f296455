// Conversations on top of the runner: a run with a conversation_id sees the conversation's
// earlier turns (bounded, oldest dropped first) and reserves its turn's place when it starts;
// when it ends ok or partial, whichever replica finishes it records the turn there (once). A
// failed run appends nothing.
import { storeUnavailable } from "../errors.js";
import type { ConversationStore } from "../store/conversations.js";
import { historyMessages } from "../store/conversations.js";
import type { RecordTurn, Runner } from "./runner.js";

export interface HistoryBounds {
  maxTurns: number;
  maxChars: number;
}

export function withConversations(runner: Runner, store: ConversationStore, bounds: HistoryBounds): Runner {
  return {
    async start(req) {
      if (!req.conversationId) return runner.start(req);
      const { seq, turns } = await store.begin(req.conversationId).catch(() => {
        throw storeUnavailable();
      });
      const history = [...historyMessages(turns, bounds.maxTurns, bounds.maxChars), ...(req.history ?? [])];
      return runner.start({ ...req, history, conversation: { id: req.conversationId, seq } });
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

/** Appends a finished run's turn at the place it reserved; failures are reported, not thrown. */
export function turnRecorder(store: ConversationStore, onError: (err: unknown) => void): RecordTurn {
  return (conversation, turn) =>
    store.append(conversation.id, conversation.seq, { ...turn, created_at: new Date().toISOString() }).catch(onError);
}
