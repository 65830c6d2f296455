// The run's plan: the preset and strategy pickers (filled from GET api/presets) and the cost
// estimate before sending (POST api/process with dry_run: nothing is called, no run is made).
import { showHttpError } from "./http-errors.js";
import { els, requestHeaders } from "./page.js";

let presets = [];

/** The request fields the pickers set (none when left at their defaults). */
export function planFields() {
  return {
    ...(els.presetSelect.value ? { preset: els.presetSelect.value } : {}),
    ...(els.strategySelect.value ? { strategy: els.strategySelect.value } : {}),
  };
}

function describePreset() {
  const p = presets.find((x) => x.name === els.presetSelect.value);
  els.presetHint.textContent = p ? p.description : "";
}

export async function loadPresets() {
  try {
    const res = await fetch("api/presets", { headers: requestHeaders({}) });
    if (!res.ok) return;
    const body = await res.json();
    presets = Array.isArray(body.presets) ? body.presets : [];
    for (const p of presets) {
      const opt = document.createElement("option");
      opt.value = p.name;
      opt.textContent = p.name === body.default ? `${p.name} (default)` : p.name;
      els.presetSelect.append(opt);
    }
  } catch {
    // No presets listed: the server default is used.
  }
}

/** Asks for the plan and its worst-case cost, and shows it under the pickers. */
export async function estimate(message, messageId) {
  const line = els.estimateLine;
  line.hidden = false;
  if (!message.trim()) {
    line.textContent = "Type a message to estimate its cost.";
    return;
  }
  line.textContent = "Estimating…";
  let res;
  try {
    res = await fetch("api/process", {
      method: "POST",
      headers: requestHeaders({ "content-type": "application/json" }),
      body: JSON.stringify({ message, message_id: messageId, dry_run: true, ...planFields() }),
    });
  } catch {
    line.textContent = "Could not reach the server for an estimate.";
    return;
  }
  if (!res.ok) {
    line.hidden = true;
    return showHttpError(res, "Could not estimate");
  }
  const { plan, estimate: e } = await res.json();
  const cost = e.cost_usd === null ? "unknown (a model has no price)" : `$${e.cost_usd.toFixed(4)}`;
  line.textContent = `Plan: ${plan.strategy}, ${plan.rounds} round${plan.rounds === 1 ? "" : "s"}, ${plan.agents.join(", ")} — ${plan.calls} calls, at most ${cost}.`;
}

// A server with API keys lists its presets once a key is entered.
els.keyInput.addEventListener("change", () => {
  if (!presets.length) void loadPresets();
});
els.presetSelect.addEventListener("change", () => {
  describePreset();
  els.estimateLine.hidden = true;
});
els.strategySelect.addEventListener("change", () => {
  els.estimateLine.hidden = true;
});
