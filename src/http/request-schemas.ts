// The zod schemas of request bodies and parameters: the one place the contract's input rules live.
import { z } from "zod";
import { MAX_ROUNDS, STRATEGIES } from "../config/presets.js";

const ID_RULE = "must be 1-128 characters from A-Z a-z 0-9 _ - . :";
export const idSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, ID_RULE);

export { codePoints } from "../text/code-points.js";
import { codePoints } from "../text/code-points.js";

export function processRequestSchema(maxChars: number, agentNames: string[], presetNames: string[] = ["default"]) {
  return z.object({
    message: z
      .string()
      .refine((s) => s.trim().length > 0, "must not be empty")
      .refine((s) => codePoints(s) <= maxChars, `must be at most ${maxChars} characters`)
      // The refinements above in JSON Schema terms, for /openapi.json (maxLength counts code points too).
      .meta({ pattern: "\\S", maxLength: maxChars, description: "The question; not blank." }),
    message_id: idSchema,
    agents: z
      .array(z.enum(agentNames as [string, ...string[]], { error: `must name configured agents (${agentNames.join(", ")})` }))
      .min(1, "must name at least one agent")
      .refine((a) => new Set(a).size === a.length, "must not repeat an agent")
      .meta({ uniqueItems: true, description: "Agents to ask; default: all." })
      .optional(),
    stream_agents: z.boolean().default(false),
    conversation_id: idSchema.optional(),
    on_disconnect: z
      .enum(["cancel", "continue"])
      .optional()
      .meta({ description: "When the last client following the run goes away: cancel it after RUN_ORPHAN_GRACE_MS, or let it run to its end. Default ON_DISCONNECT." }),
    preset: z
      .enum(presetNames as [string, ...string[]], { error: `must name a preset (${presetNames.join(", ")})` })
      .meta({ description: "The preset to start from (GET /api/presets); default: DEFAULT_PRESET." })
      .optional(),
    strategy: z.enum(STRATEGIES).meta({ description: "How the answers are combined; overrides the preset's." }).optional(),
    rounds: z.int().min(1).max(MAX_ROUNDS).meta({ description: "Mixture-of-agents rounds; overrides the preset's (default 1)." }).optional(),
    max_cost_usd: z
      .number()
      .positive()
      .meta({ description: "Refuse the run (402) if its worst-case cost is above it; stop it if the measured cost passes it." })
      .optional(),
    dry_run: z.boolean().meta({ description: "Answer the plan and its cost estimate as JSON; no LLM is called, no run created." }).optional(),
  });
}

export type ProcessRequest = z.infer<ReturnType<typeof processRequestSchema>>;

export const lastEventIdSchema = z
  .string()
  .regex(/^\d{1,15}$/, "must be a non-negative integer: the id of the last event received")
  .transform(Number);
