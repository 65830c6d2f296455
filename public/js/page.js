// The page's fixed elements and what every part draws with: the status line, the error box,
// the busy state. Everything the server says goes in with textContent, never as HTML.

const $ = (id) => document.getElementById(id);
export const els = {
  form: $("ask"),
  messageBox: $("message"),
  messageError: $("message-error"),
  streamBox: $("stream-agents"),
  keyBox: $("key-box"),
  keyInput: $("api-key"),
  sendButton: $("send"),
  stopButton: $("stop"),
  errorBox: $("error"),
  askedLine: $("asked"),
  agentsSection: $("agents-section"),
  lanesList: $("lanes"),
  summarySection: $("summary-section"),
  summaryBox: $("summary"),
  statusLine: $("status"),
  threadSection: $("thread-section"),
  threadList: $("thread"),
  newConversationButton: $("new-conversation"),
  presetSelect: $("preset"),
  presetHint: $("preset-hint"),
  strategySelect: $("strategy"),
  estimateButton: $("estimate"),
  estimateLine: $("estimate-line"),
  stagesSection: $("stages-section"),
  reviewsList: $("reviews"),
  rankingBox: $("ranking-box"),
  rankingList: $("ranking"),
  analysisBox: $("analysis"),
};

/** A random id. randomUUID needs a secure context; http://<LAN address> is not one. */
export function randomId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function formatMs(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The request's headers, with the API key when one was entered. */
export function requestHeaders(extra) {
  const key = els.keyInput.value.trim();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

/** A paragraph whose text is preceded by a label only screen readers hear ("You asked: "). */
export function labelled(className, label, text) {
  const p = document.createElement("p");
  p.className = className;
  const hidden = document.createElement("span");
  hidden.className = "visually-hidden";
  hidden.textContent = label;
  p.append(hidden, text);
  return p;
}

export function setStatus(text, status) {
  els.statusLine.textContent = text;
  if (status) els.statusLine.dataset.status = status;
}

export function showError(title, text, code) {
  const { errorBox } = els;
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

export function showFieldError(text) {
  els.messageError.textContent = text;
  els.messageError.hidden = false;
  els.messageBox.setAttribute("aria-invalid", "true");
}

export function clearFieldError() {
  els.messageError.hidden = true;
  els.messageError.textContent = "";
  els.messageBox.removeAttribute("aria-invalid");
}

/** Empties the run's part of the page (not the thread), and the status line with its state. */
export function clearView() {
  els.errorBox.hidden = true;
  els.errorBox.replaceChildren();
  clearFieldError();
  els.askedLine.hidden = true;
  els.lanesList.replaceChildren();
  els.agentsSection.hidden = true;
  els.reviewsList.replaceChildren();
  els.rankingList.replaceChildren();
  els.rankingBox.hidden = true;
  els.analysisBox.replaceChildren();
  els.analysisBox.hidden = true;
  els.stagesSection.hidden = true;
  els.summaryBox.replaceChildren();
  els.summarySection.hidden = true;
  setStatus("");
  delete els.statusLine.dataset.status;
}

export function setBusy(busy) {
  els.sendButton.disabled = busy;
  els.newConversationButton.disabled = busy;
  els.stopButton.hidden = !busy;
  els.form.setAttribute("aria-busy", String(busy));
}
