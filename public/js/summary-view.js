// The summary's part of the page and the run's ending: the streamed summary, then `done` (the
// status line, the new conversation turn) or `error` (what went wrong, in plain words).
import { recordTurn } from "./conversation.js";
import { els, formatMs, setStatus, showError } from "./page.js";

const RUN_ERRORS = {
  all_agents_failed: "Every agent failed, so no summary could be written. Please try again in a moment.",
  not_enough_agents: "Too few agents answered to write a summary. Please try again in a moment.",
  summarizer_failed: "The agents answered, but writing the summary failed. Their answers are in the lanes above.",
  cancelled: "The run was stopped before it finished.",
  budget_exceeded: "The run passed its cost limit (max_cost_usd) and was stopped. The agents' answers so far are in the lanes above.",
  shutting_down: "The server is restarting and stopped this run. Please send again in a moment.",
};

export const summaryEvents = {
  summary_delta(run, data) {
    els.summarySection.hidden = false;
    els.summaryBox.setAttribute("aria-busy", "true");
    els.summaryBox.append(String(data.delta ?? ""));
  },
  summary_restart() {
    // A fallback summarizer starts over: the text so far is void.
    els.summaryBox.textContent = "";
    setStatus("The summary starts over with another model…");
  },
  done(run, data) {
    const { summaryBox } = els;
    run.ended = true;
    run.done = true;
    els.summarySection.hidden = false;
    summaryBox.textContent = String(data.summary ?? summaryBox.textContent);
    summaryBox.setAttribute("aria-busy", "false");
    const ok = data.agents?.ok ?? 0;
    const total = ok + (data.agents?.failed ?? 0);
    const who = ok === total && total > 1 ? `all ${total} agents answered` : `${ok} of ${total} agent${total === 1 ? "" : "s"} answered`;
    const strategy = data.strategy && data.strategy !== "summarize" ? ` · ${data.strategy}` : "";
    const cost = typeof data.cost_usd === "number" ? ` · $${data.cost_usd.toFixed(4)}` : "";
    const lacks = data.degraded ? ` · degraded: ${[...(data.degraded.failed_agents ?? []).map((a) => `${a} failed`), ...(data.degraded.skipped ?? []).map((s) => `${s} skipped`)].join(", ")}` : "";
    setStatus(`Status: ${data.status} — ${who}${strategy} · total ${formatMs(data.latency_ms)}${cost}${lacks}`, data.status);
    recordTurn(run, summaryBox.textContent);
  },
  error(run, data) {
    run.ended = true;
    els.summaryBox.setAttribute("aria-busy", "false");
    if (data.code === "cancelled" && run.stopRequested) {
      // What the user asked for: no failure to report; the lanes keep what was written so far.
      setStatus(`Status: stopped (you pressed Stop) · total ${formatMs(performance.now() - run.t0)}`, "stopped");
      return;
    }
    showError("The run failed", RUN_ERRORS[data.code] ?? String(data.message ?? "The run failed."), `${data.code}: ${data.message}`);
    setStatus(`Status: error (${data.code}) · total ${formatMs(performance.now() - run.t0)}`, "error");
  },
};
