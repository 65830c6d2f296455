// Conversations: the turns (user message + Chorus's summary) of one conversation_id, in memory
// or in Redis (shared by replicas), expiring CONVERSATION_TTL_S after the last turn. A run
// reserves its place when it starts, so turns stay in start order even when a later run
// finishes first; a failed run leaves its place empty.
import type { Cluster, Redis } from "ioredis";

export interface Turn {
  message_id: string;
  message: string;
  summary: string;
  status: "ok" | "partial";
  created_at: string;
}

export interface ConversationStore {
  /** Reserves the next place in the conversation and returns the turns so far, oldest first. */
  begin(id: string): Promise<{ seq: number; turns: Turn[] }>;
  /** Records the turn of the run that reserved `seq`. */
  append(id: string, seq: number, turn: Turn): Promise<void>;
  /** Undefined when the conversation is unknown or expired. */
  get(id: string): Promise<Turn[] | undefined>;
  /** False when there was nothing to delete. */
  delete(id: string): Promise<boolean>;
}

/** Most turns kept per conversation; older ones are dropped (prompts use far fewer). */
const MAX_STORED_TURNS = 200;

export function memoryConversations(ttlS: number, maxConversations = 10_000): ConversationStore {
  const convs = new Map<string, { seq: number; turns: { seq: number; turn: Turn }[]; expires: number }>();
  const live = (id: string) => {
    const c = convs.get(id);
    if (c && c.expires <= Date.now()) convs.delete(id);
    return convs.get(id);
  };
  const touch = (id: string) => {
    let c = live(id);
    if (!c) {
      c = { seq: 0, turns: [], expires: 0 };
      if (convs.size >= maxConversations) convs.delete(convs.keys().next().value!);
    }
    convs.delete(id); // re-insert: the map's order is least recently used first
    convs.set(id, c);
    c.expires = Date.now() + ttlS * 1000;
    return c;
  };
  return {
    async begin(id) {
      const c = touch(id);
      return { seq: ++c.seq, turns: c.turns.map((t) => t.turn) };
    },
    async append(id, seq, turn) {
      const c = touch(id);
      c.turns.push({ seq, turn });
      c.turns.sort((a, b) => a.seq - b.seq);
      if (c.turns.length > MAX_STORED_TURNS) c.turns.splice(0, c.turns.length - MAX_STORED_TURNS);
    },
    async get(id) {
      const c = live(id);
      return c && c.turns.length ? c.turns.map((t) => t.turn) : undefined;
    },
    async delete(id) {
      const had = (live(id)?.turns.length ?? 0) > 0;
      convs.delete(id);
      return had;
    },
  };
}

export function redisConversations(redis: Redis | Cluster, ttlS: number): ConversationStore {
  // One hash tag per conversation: its keys share a slot, so MULTI works on a Redis Cluster.
  const turnsKey = (id: string) => `chorus:{conv:${id}}:turns`;
  const seqKey = (id: string) => `chorus:{conv:${id}}:seq`;
  const read = async (id: string) => (await redis.zrange(turnsKey(id), 0, -1)).map((s) => JSON.parse(s) as Turn);
  return {
    async begin(id) {
      const res = await redis.multi().incr(seqKey(id)).expire(seqKey(id), ttlS).zrange(turnsKey(id), 0, -1).exec();
      const failed = res?.find(([err]) => err);
      if (!res || failed) throw failed?.[0] ?? new Error("redis transaction aborted");
      return { seq: Number(res[0]![1]), turns: (res[2]![1] as string[]).map((s) => JSON.parse(s) as Turn) };
    },
    async append(id, seq, turn) {
      await redis
        .multi()
        .zadd(turnsKey(id), seq, JSON.stringify(turn))
        .zremrangebyrank(turnsKey(id), 0, -MAX_STORED_TURNS - 1)
        .expire(turnsKey(id), ttlS)
        .expire(seqKey(id), ttlS)
        .exec();
    },
    async get(id) {
      const turns = await read(id);
      return turns.length ? turns : undefined;
    },
    async delete(id) {
      return (await redis.del(turnsKey(id), seqKey(id))) > 0;
    },
  };
}

/**
 * The history a run sees: the most recent turns within both bounds, oldest first, as chat
 * messages (the user's message, then the summary Chorus answered with).
 */
export function historyMessages(turns: Turn[], maxTurns: number, maxChars: number) {
  const kept: Turn[] = [];
  let chars = 0;
  for (let i = turns.length - 1; i >= 0 && kept.length < maxTurns; i--) {
    const t = turns[i]!;
    chars += t.message.length + t.summary.length;
    if (chars > maxChars) break;
    kept.unshift(t);
  }
  return kept.flatMap((t) => [
    { role: "user" as const, content: t.message },
    { role: "assistant" as const, content: t.summary },
  ]);
}
