// The agents' part of the page: one lane per agent, its state, its streamed or finished answer,
// or why it failed. Exports the handlers of the agent events (see run.js).
import { els, formatMs, setStatus } from "./page.js";

const FAILED_AS = { error: "failed", timeout: "timed out", cancelled: "cancelled" };

function createLanes(run, names) {
  els.lanesList.replaceChildren();
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
    els.lanesList.append(li);
    run.lanes.set(name, { li, state, reason, output, text });
  }
  els.agentsSection.hidden = names.length === 0;
}

function progress(run) {
  const lanes = [...(run.lanes?.values() ?? [])];
  const finished = lanes.filter((l) => l.li.dataset.state === "ok" || l.li.dataset.state === "failed").length;
  if (finished < lanes.length) setStatus(`Waiting for agents: ${finished} of ${lanes.length} finished…`);
  else setStatus("Writing the summary…");
}

/** A handler that runs only for a lane this run drew. */
const onLane = (draw) => (run, data) => {
  const lane = run.lanes?.get(data.agent);
  if (lane) draw(run, lane, data);
};

export const agentEvents = {
  start(run, data) {
    createLanes(run, Array.isArray(data.agents) ? data.agents : []);
    progress(run);
  },
  agent_start: onLane((run, lane, data) => {
    lane.li.dataset.state = "running";
    lane.state.textContent = data.round ? `round ${data.round}: started…` : "started…";
    // Asked again after a takeover: its earlier tokens are void.
    if (run.rerun?.delete(data.agent)) lane.text.textContent = "";
  }),
  takeover(run, data) {
    const rerun = Array.isArray(data.rerun) ? data.rerun : [];
    run.rerun = new Set(rerun);
    setStatus(`Another server took the run over${rerun.length ? `; asking again: ${rerun.join(", ")}` : ""}…`);
  },
  agent_delta: onLane((run, lane, data) => {
    lane.li.dataset.state = "running";
    lane.state.textContent = "writing…";
    lane.output.hidden = false;
    lane.text.append(String(data.delta ?? ""));
  }),
  agent_done: onLane((run, lane, data) => {
    lane.li.dataset.state = "ok";
    lane.state.textContent = `✓ done in ${formatMs(data.latency_ms)}${data.round ? ` (round ${data.round})` : ""}`;
    if (typeof data.output === "string" && data.output) {
      lane.text.textContent = data.output; // the full answer, whatever deltas were seen
      lane.output.hidden = false;
    }
    progress(run);
  }),
  agent_error: onLane((run, lane, data) => {
    lane.li.dataset.state = "failed";
    lane.state.textContent = `✗ ${FAILED_AS[data.status] ?? "failed"} after ${formatMs(data.latency_ms)}`;
    lane.reason.textContent = `${data.error?.code ?? "error"}: ${data.error?.message ?? "no reason given"}`;
    lane.reason.hidden = false;
    progress(run);
  }),
};
