// A request refused before any stream started (an HTTP error answer), told in plain words
// with what to do next, and the field at fault marked beside the box.
import { els, setStatus, showError, showFieldError } from "./page.js";

const FIELD_NAMES = {
  message: "Message",
  message_id: "Message id",
  conversation_id: "Conversation id",
  stream_agents: "Stream agent text",
  agents: "Agents",
};

function explain(res, err, serverSays) {
  switch (res.status) {
    case 400: {
      if (!Array.isArray(err.details) || !err.details.length) return `The server could not read the request (${serverSays || "bad request"}).`;
      const lines = err.details.map((d) => `${FIELD_NAMES[d.field] ?? d.field}: ${d.message}`);
      const onMessage = err.details.find((d) => d.field === "message");
      if (onMessage) showFieldError(`Message ${onMessage.message}.`);
      return `Please fix this and send again — ${lines.join("; ")}.`;
    }
    case 401:
      els.keyBox.open = true;
      return "This server needs an API key. Enter it under “API key” below the message box and send again.";
    case 404:
      return "The server no longer has this run (it may have expired).";
    case 409:
      return "A run with this id is already in progress. Please send again.";
    case 413:
      return `Your message is too large for this server. Please shorten it and send again. (${serverSays})`;
    case 429: {
      const wait = Number(res.headers.get("retry-after"));
      const when = Number.isFinite(wait) && wait > 0 ? `${wait} second${wait === 1 ? "" : "s"}` : "a moment";
      return `Too many requests. Please wait ${when} before sending again.`;
    }
    case 503:
      return err.code === "shutting_down"
        ? "The server is restarting. Please try again in a few seconds."
        : "The server is busy right now. Please try again in a few seconds.";
    default:
      return `The server answered with status ${res.status}${serverSays ? `: ${serverSays}` : ""}.`;
  }
}

export async function showHttpError(res, title) {
  const body = await res.json().catch(() => null);
  const err = body?.error ?? {};
  const code = err.code ? `${res.status} ${err.code}` : `HTTP ${res.status}`;
  const serverSays = typeof err.message === "string" ? err.message : "";
  showError(title, explain(res, err, serverSays), serverSays ? `${code}: ${serverSays}` : code);
  setStatus(`Status: not sent (${code})`, "error");
}
