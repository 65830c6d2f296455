// GET /api/presets: the presets a request (or a /v1 model name) may pick, default included.
import { Hono } from "hono";
import type { Prompts } from "../config/prompts.js";
import { presetSummary } from "../run/plan.js";
import type { AppEnv } from "./app-env.js";

export function presetRoutes(prompts: Prompts, defaultPreset: string) {
  const body = { default: defaultPreset, presets: prompts.presets.map((p) => presetSummary(prompts, p)) };
  return new Hono<AppEnv>().get("/api/presets", (c) => c.json(body));
}
