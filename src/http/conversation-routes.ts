// GET and DELETE /api/conversations/{id}: read a conversation's turns, or forget it.
import { Hono } from "hono";
import { ApiError, storeUnavailable } from "../errors.js";
import type { ConversationStore } from "../store/conversations.js";
import type { AppEnv } from "./app-env.js";
import { invalidRequest } from "./errors.js";
import { idSchema } from "./request-schemas.js";

export function conversationRoutes(store: ConversationStore) {
  const app = new Hono<AppEnv>();
  const idOf = (raw: string) => {
    const parsed = idSchema.safeParse(raw);
    if (!parsed.success) throw invalidRequest(parsed.error);
    return parsed.data;
  };
  const unavailable = () => {
    throw storeUnavailable();
  };

  app.get("/api/conversations/:conversation_id", async (c) => {
    const id = idOf(c.req.param("conversation_id"));
    const turns = await store.get(id).catch(unavailable);
    if (!turns) throw new ApiError("conversation_not_found", `no conversation "${id}" (or it has expired)`);
    return c.json({ conversation_id: id, turns });
  });

  app.delete("/api/conversations/:conversation_id", async (c) => {
    const id = idOf(c.req.param("conversation_id"));
    if (!(await store.delete(id).catch(unavailable))) {
      throw new ApiError("conversation_not_found", `no conversation "${id}"`);
    }
    return c.body(null, 204);
  });
  return app;
}
