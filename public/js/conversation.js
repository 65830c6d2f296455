// The conversation: {id, turns: [{message_id, message, summary}]}, where the turns are the runs
// that ended `done` (a failed run is not part of the conversation on the server either). Kept in
// sessionStorage, so a reload keeps the thread and another tab starts its own; its finished turns
// are listed above the current run until "New conversation".
import { els, labelled, randomId, requestHeaders } from "./page.js";

const CONVERSATION_KEY = "chorus.conversation";
const ID_RULE = /^[A-Za-z0-9_.:-]{1,128}$/;

const fresh = () => ({ id: `web-conv-${randomId()}`, turns: [] });

function load() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(CONVERSATION_KEY) ?? "null");
    if (typeof saved?.id === "string" && ID_RULE.test(saved.id) && Array.isArray(saved.turns)) {
      return { id: saved.id, turns: saved.turns.filter((t) => typeof t?.message === "string" && typeof t?.summary === "string") };
    }
  } catch {
    // Storage blocked or garbled: start afresh.
  }
  return fresh();
}

function save() {
  try {
    sessionStorage.setItem(CONVERSATION_KEY, JSON.stringify(conversation));
  } catch {
    // Storage blocked: the conversation still lasts until the page is left.
  }
}

let conversation = load();
save();
/** The message_id of the run shown below the thread: its turn is not listed twice. */
let shownMessageId = null;

export const conversationId = () => conversation.id;

export function renderThread() {
  els.form.dataset.conversationId = conversation.id;
  const earlier = conversation.turns.filter((t) => t.message_id !== shownMessageId);
  els.threadList.replaceChildren(
    ...earlier.map((t) => {
      const li = document.createElement("li");
      li.className = "turn";
      li.append(labelled("turn-q", "You asked: ", t.message), labelled("turn-a", "Summary: ", t.summary));
      return li;
    }),
  );
  els.threadList.hidden = earlier.length === 0;
  els.threadSection.hidden = conversation.turns.length === 0;
}

/** A run starts below the thread: the earlier turns stay listed above it. */
export function showRun(messageId) {
  shownMessageId = messageId;
  renderThread();
}

/** A run of this conversation ended `done`: it is now a turn (the server records it the same way). */
export function recordTurn(run, summary) {
  if (run.conversationId !== conversation.id || conversation.turns.some((t) => t.message_id === run.messageId)) return;
  conversation.turns.push({ message_id: run.messageId, message: run.message, summary });
  save();
  renderThread();
}

/** After a reload, take the server's word for the turns: it may have expired the conversation. */
export async function syncConversation() {
  if (!conversation.turns.length) return; // nothing to check (and a 404 would log a console error)
  const id = conversation.id;
  let turns = null;
  try {
    const res = await fetch(`api/conversations/${encodeURIComponent(id)}`, { headers: requestHeaders({}) });
    if (res.status === 404) turns = [];
    else if (res.ok) turns = (await res.json())?.turns;
  } catch {
    return; // offline: keep what this tab remembers
  }
  // Only while the page is as loaded: once a question is sent, this tab's list is newer.
  if (!Array.isArray(turns) || conversation.id !== id || shownMessageId) return;
  conversation.turns = turns.map((t) => ({ message_id: String(t.message_id), message: String(t.message), summary: String(t.summary) }));
  save();
  renderThread();
}

/**
 * "New conversation": a fresh id and an empty thread. The old conversation is also deleted on
 * the server: its id was made up by this tab and lives only in this tab's storage, so nothing
 * could continue it anyway, and the user asked to be done with it; deleting spares the server
 * keeping those questions until CONVERSATION_TTL_S. If the DELETE fails (offline, a key is
 * needed, already expired) the page does not care: nobody will send that id again.
 */
export function newConversation() {
  const old = conversation;
  conversation = fresh();
  save();
  shownMessageId = null;
  renderThread();
  if (old.turns.length) {
    void fetch(`api/conversations/${encodeURIComponent(old.id)}`, { method: "DELETE", headers: requestHeaders({}) }).catch(() => {});
  }
}
