// Chorus web page. POSTs /api/process and reads its SSE stream with fetch + a stream reader
// (EventSource cannot POST), draws one lane per agent and the summary as tokens arrive, and
// if the connection drops mid-run resumes once from the last event id it saw.
// Every message carries the tab's conversation_id, so follow-up questions continue the
// conversation; its finished turns are listed above the current run until "New conversation".
// Everything the server says is put in the page with textContent, never as HTML.

const $ = (id) => document.getElementById(id);
const form = $("ask");
const messageBox = $("message");
const messageError = $("message-error");
const streamBox = $("stream-agents");
const keyBox = $("key-box");
const keyInput = $("api-key");
const sendButton = $("send");
const stopButton = $("stop");
const errorBox = $("error");
const agentsSection = $("agents-section");
const lanesList = $("lanes");
const summarySection = $("summary-section");
const summaryBox = $("summary");
const statusLine = $("status");
const threadSection = $("thread-section");
const threadList = $("thread");
const newConversationButton = $("new-conversation");

/** The run being shown, or null when idle. */
let current = null;

/** A random id. randomUUID needs a secure context; http://<LAN address> is not one. */
function randomId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A fresh message_id per send. */
const newMessageId = () => `web-${randomId()}`;

// ---- the conversation -----------------------------------------------------------------------
// {id, turns: [{message_id, message, summary}]}: the turns are the runs that ended `done` (a
// failed run is not part of the conversation on the server either). Kept in sessionStorage, so
// a reload keeps the thread and another tab starts its own.

const CONVERSATION_KEY = "chorus.conversation";
const ID_RULE = /^[A-Za-z0-9_.:-]{1,128}$/;

const newConversation = () => ({ id: `web-conv-${randomId()}`, turns: [] });

function loadConversation() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(CONVERSATION_KEY) ?? "null");
    if (typeof saved?.id === "string" && ID_RULE.test(saved.id) && Array.isArray(saved.turns)) {
      return { id: saved.id, turns: saved.turns.filter((t) => typeof t?.message === "string" && typeof t?.summary === "string") };
    }
  } catch {
    // Storage blocked or garbled: start afresh.
  }
  return newConversation();
}

function saveConversation() {
  try {
    sessionStorage.setItem(CONVERSATION_KEY, JSON.stringify(conversation));
  } catch {
    // Storage blocked: the conversation still lasts until the page is left.
  }
}

let conversation = loadConversation();
saveConversation();
/** The message_id of the run shown below the thread: its turn is not listed twice. */
let shownMessageId = null;

/** A paragraph whose text is preceded by a label only screen readers hear ("You asked: "). */
function labelled(className, label, text) {
  const p = document.createElement("p");
  p.className = className;
  const hidden = document.createElement("span");
  hidden.className = "visually-hidden";
  hidden.textContent = label;
  p.append(hidden, text);
  return p;
}

function renderThread() {
  form.dataset.conversationId = conversation.id;
  const earlier = conversation.turns.filter((t) => t.message_id !== shownMessageId);
  threadList.replaceChildren(
    ...earlier.map((t) => {
      const li = document.createElement("li");
      li.className = "turn";
      li.append(labelled("turn-q", "You asked: ", t.message), labelled("turn-a", "Summary: ", t.summary));
      return li;
    }),
  );
  threadList.hidden = earlier.length === 0;
  threadSection.hidden = conversation.turns.length === 0;
}

/** After a reload, take the server's word for the turns: it may have expired the conversation. */
async function syncConversation() {
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
  if (!Array.isArray(turns) || conversation.id !== id || current || shownMessageId) return;
  conversation.turns = turns.map((t) => ({ message_id: String(t.message_id), message: String(t.message), summary: String(t.summary) }));
  saveConversation();
  renderThread();
}

/**
 * "New conversation": a fresh id and an empty thread. The old conversation is also deleted on
 * the server: its id was made up by this tab and lives only in this tab's storage, so nothing
 * could continue it anyway, and the user asked to be done with it; deleting spares the server
 * keeping those questions until CONVERSATION_TTL_S. If the DELETE fails (offline, a key is
 * needed, already expired) the page does not care: nobody will send that id again.
 */
function startNewConversation() {
  if (current) return;
  const old = conversation;
  conversation = newConversation();
  saveConversation();
  shownMessageId = null;
  clearView();
  delete statusLine.dataset.status;
  renderThread();
  setStatus("Started a new conversation.");
  messageBox.focus();
  if (old.turns.length) {
    void fetch(`api/conversations/${encodeURIComponent(old.id)}`, { method: "DELETE", headers: requestHeaders({}) }).catch(() => {});
  }
}

/**
 * An incremental SSE parser: feed it decoded text as it arrives, get back the complete events
 * ({id, event, data}). Comment lines such as ": ping" are skipped.
 */
function createSseParser() {
  let buf = "";
  let ev = { id: undefined, event: "", data: [] };
  return (text) => {
    buf += text;
    const events = [];
    const lineEnd = /\r\n|\r|\n/g;
    let start = 0;
    for (let m; (m = lineEnd.exec(buf)); ) {
      if (m[0] === "\r" && m.index === buf.length - 1) break; // maybe half of a \r\n: wait
      const line = buf.slice(start, m.index);
      start = m.index + m[0].length;
      if (line === "") {
        if (ev.data.length) events.push({ id: ev.id, event: ev.event || "message", data: ev.data.join("\n") });
        ev = { id: undefined, event: "", data: [] };
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "id") ev.id = value;
      else if (field === "event") ev.event = value;
      else if (field === "data") ev.data.push(value);
    }
    buf = buf.slice(start);
    return events;
  };
}

function formatMs(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function requestHeaders(extra) {
  const key = keyInput.value.trim();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

// ---- drawing ------------------------------------------------------------------------------

function setStatus(text) {
  statusLine.textContent = text;
}

function showError(title, text, code) {
  errorBox.replaceChildren();
  const strong = document.createElement("strong");
  strong.textContent = title;
  const p = document.createElement("p");
  p.textContent = text;
  errorBox.append(strong, p);
  if (code) {
    const small = document.createElement("p");
    small.className = "code";
    small.textContent = code;
    errorBox.append(small);
  }
  errorBox.hidden = false;
}

function showFieldError(text) {
  messageError.textContent = text;
  messageError.hidden = false;
  messageBox.setAttribute("aria-invalid", "true");
}

function clearView() {
  errorBox.hidden = true;
  errorBox.replaceChildren();
  messageError.hidden = true;
  messageError.textContent = "";
  messageBox.removeAttribute("aria-invalid");
  lanesList.replaceChildren();
  agentsSection.hidden = true;
  summaryBox.replaceChildren();
  summarySection.hidden = true;
  setStatus("");
}

function setBusy(busy) {
  sendButton.disabled = busy;
  newConversationButton.disabled = busy;
  stopButton.hidden = !busy;
  form.setAttribute("aria-busy", String(busy));
}

function createLanes(run, names) {
  lanesList.replaceChildren();
  run.lanes = new Map();
  for (const name of names) {
    const li = document.createElement("li");
    li.className = "lane";
    li.dataset.agent = name;
    li.dataset.state = "waiting";
    const head = document.createElement("div");
    head.className = "lane-head";
    const label = document.createElement("span");
    label.className = "lane-name";
    label.textContent = name;
    const state = document.createElement("span");
    state.className = "lane-state";
    state.textContent = "waiting";
    head.append(label, state);
    const reason = document.createElement("p");
    reason.className = "lane-reason";
    reason.hidden = true;
    // Streamed text shows open as it comes; otherwise the finished answer waits folded.
    const output = document.createElement("details");
    output.className = "lane-output";
    output.open = run.streamAgents;
    output.hidden = true;
    const summary = document.createElement("summary");
    summary.textContent = "Answer";
    const text = document.createElement("div");
    text.className = "lane-text";
    output.append(summary, text);
    li.append(head, reason, output);
    lanesList.append(li);
    run.lanes.set(name, { li, state, reason, output, text });
  }
  agentsSection.hidden = names.length === 0;
}

function laneOf(run, name) {
  return run.lanes?.get(name);
}

function progress(run) {
  const lanes = [...(run.lanes?.values() ?? [])];
  const finished = lanes.filter((l) => l.li.dataset.state === "ok" || l.li.dataset.state === "failed").length;
  if (finished < lanes.length) setStatus(`Waiting for agents: ${finished} of ${lanes.length} finished…`);
  else setStatus("Writing the summary…");
}

// ---- the run's events -----------------------------------------------------------------------

const FAILED_AS = { error: "failed", timeout: "timed out", cancelled: "cancelled" };

const RUN_ERRORS = {
  all_agents_failed: "Every agent failed, so no summary could be written. Please try again in a moment.",
  not_enough_agents: "Too few agents answered to write a summary. Please try again in a moment.",
  summarizer_failed: "The agents answered, but writing the summary failed. Their answers are in the lanes above.",
  cancelled: "The run was stopped before it finished.",
  shutting_down: "The server is restarting and stopped this run. Please send again in a moment.",
};

function handleEvent(run, ev) {
  const id = Number(ev.id);
  if (Number.isInteger(id) && id > 0) {
    if (id <= run.lastId) return; // already drawn (a resume replays from the id we sent)
    run.lastId = id;
  }
  let data;
  try {
    data = JSON.parse(ev.data);
  } catch {
    return;
  }
  switch (ev.event) {
    case "start":
      createLanes(run, Array.isArray(data.agents) ? data.agents : []);
      progress(run);
      break;
    case "agent_start": {
      const lane = laneOf(run, data.agent);
      if (!lane) break;
      lane.li.dataset.state = "running";
      lane.state.textContent = "started…";
      break;
    }
    case "agent_delta": {
      const lane = laneOf(run, data.agent);
      if (!lane) break;
      lane.li.dataset.state = "running";
      lane.state.textContent = "writing…";
      lane.output.hidden = false;
      lane.text.append(String(data.delta ?? ""));
      break;
    }
    case "agent_done": {
      const lane = laneOf(run, data.agent);
      if (!lane) break;
      lane.li.dataset.state = "ok";
      lane.state.textContent = `✓ done in ${formatMs(data.latency_ms)}`;
      if (typeof data.output === "string" && data.output) {
        lane.text.textContent = data.output; // the full answer, whatever deltas were seen
        lane.output.hidden = false;
      }
      progress(run);
      break;
    }
    case "agent_error": {
      const lane = laneOf(run, data.agent);
      if (!lane) break;
      lane.li.dataset.state = "failed";
      lane.state.textContent = `✗ ${FAILED_AS[data.status] ?? "failed"} after ${formatMs(data.latency_ms)}`;
      lane.reason.textContent = `${data.error?.code ?? "error"}: ${data.error?.message ?? "no reason given"}`;
      lane.reason.hidden = false;
      progress(run);
      break;
    }
    case "summary_delta":
      summarySection.hidden = false;
      summaryBox.setAttribute("aria-busy", "true");
      summaryBox.append(String(data.delta ?? ""));
      break;
    case "done": {
      run.ended = true;
      summarySection.hidden = false;
      summaryBox.textContent = String(data.summary ?? summaryBox.textContent);
      summaryBox.setAttribute("aria-busy", "false");
      const ok = data.agents?.ok ?? 0;
      const total = ok + (data.agents?.failed ?? 0);
      const who = ok === total && total > 1 ? `all ${total} agents answered` : `${ok} of ${total} agent${total === 1 ? "" : "s"} answered`;
      statusLine.dataset.status = data.status;
      setStatus(`Status: ${data.status} — ${who} · total ${formatMs(data.latency_ms)}`);
      // This run is now a turn of the conversation (the server records it the same way).
      if (run.conversationId === conversation.id && !conversation.turns.some((t) => t.message_id === run.messageId)) {
        conversation.turns.push({ message_id: run.messageId, message: run.message, summary: summaryBox.textContent });
        saveConversation();
        renderThread();
      }
      break;
    }
    case "error":
      run.ended = true;
      summaryBox.setAttribute("aria-busy", "false");
      statusLine.dataset.status = "error";
      showError("The run failed", RUN_ERRORS[data.code] ?? String(data.message ?? "The run failed."), `${data.code}: ${data.message}`);
      setStatus(`Status: error (${data.code}) · total ${formatMs(performance.now() - run.t0)}`);
      break;
  }
}

/** Reads one SSE response until it ends, the run ends, or the connection drops. Never throws. */
async function follow(run, res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parse = createSseParser();
  try {
    while (!run.ended) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const ev of parse(decoder.decode(value, { stream: true }))) handleEvent(run, ev);
    }
    await reader.cancel().catch(() => {});
  } catch {
    // The connection dropped (or we aborted): the caller decides whether to resume.
  }
}

// ---- HTTP errors before the stream ----------------------------------------------------------

const FIELD_NAMES = {
  message: "Message",
  message_id: "Message id",
  conversation_id: "Conversation id",
  stream_agents: "Stream agent text",
  agents: "Agents",
};

async function showHttpError(res, title) {
  const body = await res.json().catch(() => null);
  const err = body?.error ?? {};
  const code = err.code ? `${res.status} ${err.code}` : `HTTP ${res.status}`;
  const serverSays = typeof err.message === "string" ? err.message : "";
  let text;
  switch (res.status) {
    case 400:
      if (Array.isArray(err.details) && err.details.length) {
        const lines = err.details.map((d) => `${FIELD_NAMES[d.field] ?? d.field}: ${d.message}`);
        const onMessage = err.details.find((d) => d.field === "message");
        if (onMessage) showFieldError(`Message ${onMessage.message}.`);
        text = `Please fix this and send again — ${lines.join("; ")}.`;
      } else {
        text = `The server could not read the request (${serverSays || "bad request"}).`;
      }
      break;
    case 401:
      text = "This server needs an API key. Enter it under “API key” below the message box and send again.";
      keyBox.open = true;
      break;
    case 404:
      text = "The server no longer has this run (it may have expired).";
      break;
    case 409:
      text = "A run with this id is already in progress. Please send again.";
      break;
    case 413:
      text = `Your message is too large for this server. Please shorten it and send again. (${serverSays})`;
      break;
    case 429: {
      const wait = Number(res.headers.get("retry-after"));
      const when = Number.isFinite(wait) && wait > 0 ? `${wait} second${wait === 1 ? "" : "s"}` : "a moment";
      text = `Too many requests. Please wait ${when} before sending again.`;
      break;
    }
    case 503:
      text =
        err.code === "shutting_down"
          ? "The server is restarting. Please try again in a few seconds."
          : "The server is busy right now. Please try again in a few seconds.";
      break;
    default:
      text = `The server answered with status ${res.status}${serverSays ? `: ${serverSays}` : ""}.`;
  }
  showError(title, text, serverSays ? `${code}: ${serverSays}` : code);
  setStatus(`Status: not sent (${code})`);
  statusLine.dataset.status = "error";
}

const isEventStream = (res) => (res.headers.get("content-type") ?? "").startsWith("text/event-stream");

// ---- sending --------------------------------------------------------------------------------

async function send() {
  if (current) return;
  clearView();
  delete statusLine.dataset.status;
  const message = messageBox.value;
  if (!message.trim()) {
    showFieldError("Please type a message first.");
    messageBox.focus();
    return;
  }
  const run = {
    messageId: newMessageId(),
    conversationId: conversation.id,
    message,
    streamAgents: streamBox.checked,
    lastId: 0,
    ended: false,
    t0: performance.now(),
    lanes: null,
  };
  current = run;
  // The earlier turns stay listed above; this run is drawn below them.
  shownMessageId = run.messageId;
  renderThread();
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
        }),
      });
    } catch {
      showError("Could not send", "The server could not be reached. Check your connection and try again.");
      setStatus("Status: not sent (no connection)");
      statusLine.dataset.status = "error";
      return;
    }
    if (!res.ok || !isEventStream(res)) return await showHttpError(res, "Could not send");
    await follow(run, res);
    if (run.ended) return;

    // The stream broke before `done`/`error`: pick the run up where we left it, once.
    setStatus("Connection lost — resuming…");
    try {
      res = await fetch(`api/process/${encodeURIComponent(run.messageId)}/events`, {
        headers: requestHeaders({ "last-event-id": String(run.lastId) }),
      });
    } catch {
      res = null;
    }
    if (res && (!res.ok || !isEventStream(res))) return await showHttpError(res, "Lost the connection");
    if (res) await follow(run, res);
    if (!run.ended) {
      showError("Lost the connection", "The connection to the server dropped twice, so the result of this run is unknown. Please send again.");
      setStatus("Status: unknown (connection lost)");
      statusLine.dataset.status = "error";
    }
  } finally {
    current = null;
    setBusy(false);
  }
}

async function stop() {
  if (!current) return;
  stopButton.disabled = true;
  // The server ends the run with an `error: cancelled` event, which the open stream shows.
  await fetch(`api/process/${encodeURIComponent(current.messageId)}`, {
    method: "DELETE",
    headers: requestHeaders({}),
  }).catch(() => {});
  stopButton.disabled = false;
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
  if (!messageError.hidden) {
    messageError.hidden = true;
    messageBox.removeAttribute("aria-invalid");
  }
});
stopButton.addEventListener("click", () => void stop());
newConversationButton.addEventListener("click", startNewConversation);

renderThread();
void syncConversation();
