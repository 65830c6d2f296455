// Chorus web page, the entry module: sending a message, following its run (and resuming from
// the last event id if the connection drops mid-run), Stop (DELETE), New conversation. Each part of
// the page has its module in js/: the SSE reader, the run's state, the agents' lanes, the
// summary, the conversation's thread, the HTTP errors. No build step: native ES modules.
import { conversationId, newConversation, renderThread, showRun, syncConversation } from "./js/conversation.js";
import { showHttpError } from "./js/http-errors.js";
import { estimate, loadPresets, planFields } from "./js/plan-picker.js";
import { clearFieldError, clearView, els, randomId, requestHeaders, setBusy, setStatus, showError, showFieldError } from "./js/page.js";
import { current, endRun, follow, startRun } from "./js/run.js";
import { isEventStream } from "./js/sse.js";

const { form, messageBox, messageError, streamBox, stopButton } = els;
/** Resumes after a dropped connection before the page gives up on a run. */
const MAX_RESUMES = 5;

function lost(title, text, status) {
  showError(title, text);
  setStatus(status, "error");
}

async function send() {
  if (current) return;
  clearView();
  const message = messageBox.value;
  if (!message.trim()) {
    showFieldError("Please type a message first.");
    messageBox.focus();
    return;
  }
  const run = startRun({ message, conversationId: conversationId(), streamAgents: streamBox.checked });
  showRun(run.messageId);
  setBusy(true);
  setStatus("Sending…");
  try {
    let res;
    try {
      res = await fetch("api/process", {
        method: "POST",
        headers: requestHeaders({ "content-type": "application/json" }),
        body: JSON.stringify({
          message,
          message_id: run.messageId,
          conversation_id: run.conversationId,
          stream_agents: run.streamAgents,
          ...planFields(),
        }),
      });
    } catch {
      return lost("Could not send", "The server could not be reached. Check your connection and try again.", "Status: not sent (no connection)");
    }
    if (!res.ok || !isEventStream(res)) return await showHttpError(res, "Could not send");
    // Accepted: the question moves from the box to above the run (it comes back if the run fails).
    messageBox.value = "";
    els.askedLine.textContent = `You asked: ${message}`;
    els.askedLine.hidden = false;
    await follow(run, res);
    if (run.ended) return;

    // The stream broke before `done`/`error`: pick the run up where we left it, on whichever
    // server answers (a replica that died hands its runs over), a few times, pausing longer each time.
    for (let attempt = 1; attempt <= MAX_RESUMES && !run.ended; attempt++) {
      setStatus("Connection lost — resuming…");
      await new Promise((r) => setTimeout(r, 250 * attempt));
      try {
        res = await fetch(`api/process/${encodeURIComponent(run.messageId)}/events`, {
          headers: requestHeaders({ "last-event-id": String(run.lastId) }),
        });
      } catch {
        continue;
      }
      if (!res.ok || !isEventStream(res)) return await showHttpError(res, "Lost the connection");
      await follow(run, res);
    }
    if (!run.ended) {
      lost("Lost the connection", "The connection to the server kept dropping, so the result of this run is unknown. Please send again.", "Status: unknown (connection lost)");
    }
  } finally {
    if (!run.done && !messageBox.value) messageBox.value = message; // to send again, or edit first
    endRun();
    setBusy(false);
  }
}

async function stop() {
  if (!current) return;
  current.stopRequested = true; // its `cancelled` end is then shown as stopped, not failed
  stopButton.disabled = true;
  setStatus("Stopping…");
  // The server ends the run with an `error: cancelled` event, which the open stream shows.
  await fetch(`api/process/${encodeURIComponent(current.messageId)}`, {
    method: "DELETE",
    headers: requestHeaders({}),
  }).catch(() => {});
  stopButton.disabled = false;
}

function startNewConversation() {
  if (current) return;
  clearView();
  newConversation();
  setStatus("Started a new conversation.");
  messageBox.focus();
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  void send();
});
messageBox.addEventListener("keydown", (e) => {
  // Enter sends; Shift+Enter is a new line; Enter while an IME composes a word is left alone.
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    form.requestSubmit();
  }
});
messageBox.addEventListener("input", () => {
  if (!messageError.hidden) clearFieldError();
});
stopButton.addEventListener("click", () => void stop());
els.estimateButton.addEventListener("click", () => void estimate(messageBox.value, `web-estimate-${randomId()}`));
els.newConversationButton.addEventListener("click", startNewConversation);

renderThread();
void syncConversation();
void loadPresets();
