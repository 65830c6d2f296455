// A run's plan: the preset it starts from (the request's, else DEFAULT_PRESET) with the request's
// own fields over it: which agents, which strategy, how many rounds, which limits and budget.
import type { Preset, Strategy } from "../config/presets.js";
import type { Prompt, Prompts } from "../config/prompts.js";
import { ApiError } from "../errors.js";
import type { FanOutSettings } from "./context.js";

/** What a request may choose; each field overrides the preset's. */
export interface PlanRequest {
  preset?: string;
  agents?: string[];
  strategy?: Strategy;
  rounds?: number;
  maxCostUsd?: number;
}

export interface RunPlan {
  preset: string;
  strategy: Strategy;
  rounds: number;
  agents: Prompt[];
  limits: Partial<Pick<FanOutSettings, "fanOutDeadlineMs" | "minAgentsOk">>;
  maxCostUsd?: number;
}

export function findPreset(prompts: Prompts, name: string): Preset | undefined {
  return prompts.presets.find((p) => p.name === name);
}

/** Throws invalid_request for an unknown preset (the request schema already refuses most). */
export function resolvePlan(prompts: Prompts, defaultPreset: string, req: PlanRequest): RunPlan {
  const name = req.preset ?? defaultPreset;
  const preset = findPreset(prompts, name);
  if (!preset) throw new ApiError("invalid_request", `preset: no preset named "${name}"`, [{ field: "preset", message: "unknown preset" }]);
  const names = req.agents ?? preset.agents;
  const byName = new Map(prompts.agents.map((a) => [a.name, a]));
  const maxCostUsd = req.maxCostUsd ?? preset.max_cost_usd;
  return {
    preset: preset.name,
    strategy: req.strategy ?? preset.strategy ?? "summarize",
    rounds: req.rounds ?? preset.rounds ?? 1,
    agents: names ? names.map((n) => byName.get(n)!) : prompts.agents,
    limits: {
      ...(preset.fanout_deadline_ms !== undefined ? { fanOutDeadlineMs: preset.fanout_deadline_ms } : {}),
      ...(preset.min_agents_ok !== undefined ? { minAgentsOk: preset.min_agents_ok } : {}),
    },
    ...(maxCostUsd !== undefined ? { maxCostUsd } : {}),
  };
}

/** What GET /api/presets shows of a preset. */
export function presetSummary(prompts: Prompts, p: Preset) {
  return {
    name: p.name,
    description: p.description,
    strategy: p.strategy ?? "summarize",
    rounds: p.rounds ?? 1,
    agents: p.agents ?? prompts.agents.map((a) => a.name),
    ...(p.fanout_deadline_ms !== undefined ? { fanout_deadline_ms: p.fanout_deadline_ms } : {}),
    ...(p.min_agents_ok !== undefined ? { min_agents_ok: p.min_agents_ok } : {}),
    ...(p.max_cost_usd !== undefined ? { max_cost_usd: p.max_cost_usd } : {}),
  };
}
