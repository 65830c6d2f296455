// The naive reference for the benchmark: Chorus's job written the simplest way. Hono `streamSSE`,
// `Promise.allSettled` over `openai` streaming calls for the agent prompts, then the summarizer's
// tokens as `summary_delta`. No validation, rate limit, logging, run log, resume or timeouts; the
// one concession is handing the request's abort signal to the SDK, so that a client that leaves
// cancels its upstream calls (without it the abort scenario would measure nothing).
//
//   PORT=9100 LLM_BASE_URL=http://127.0.0.1:9000/v1 PROMPTS_DIR=prompts node bench/dist/naive.js
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import OpenAI from "openai";

const dir = process.env.PROMPTS_DIR ?? "prompts";
const model = process.env.LLM_MODEL ?? "gpt-4o-mini";
// A prompt file's body: what follows its optional `---` header.
const body = (file: string) => readFileSync(file, "utf8").replace(/^---\r?\n[\s\S]*?\r?\n---\r?\n?/, "").trim();
const agents = readdirSync(join(dir, "agents"))
  .filter((f) => f.endsWith(".md"))
  .sort()
  .map((f) => ({ name: f.slice(0, -3), system: body(join(dir, "agents", f)) }));
const summarizer = body(join(dir, "summarizer.md"));
const client = new OpenAI({ baseURL: process.env.LLM_BASE_URL, apiKey: process.env.LLM_KEY ?? "x" });

async function complete(system: string, user: string, signal: AbortSignal, onDelta?: (d: string) => Promise<void>) {
  const stream = await client.chat.completions.create(
    {
      model,
      messages: [
        { role: "system", content: system },
        { role: "user", content: user },
      ],
      stream: true,
      stream_options: { include_usage: true },
    },
    { signal },
  );
  let text = "";
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta?.content;
    if (delta) {
      text += delta;
      await onDelta?.(delta);
    }
  }
  return text;
}

const app = new Hono();
app.post("/api/process", async (c) => {
  const { message, message_id } = await c.req.json<{ message: string; message_id: string }>();
  return streamSSE(c, async (stream) => {
    const t0 = performance.now();
    const signal = c.req.raw.signal;
    let id = 0;
    const send = (event: string, data: unknown) => stream.writeSSE({ id: String(++id), event, data: JSON.stringify(data) });

    await send("start", { message_id, agents: agents.map((a) => a.name) });
    const results = await Promise.allSettled(
      agents.map(async (a) => {
        const s0 = performance.now();
        const output = await complete(a.system, message, signal);
        await send("agent_done", { agent: a.name, status: "ok", output, latency_ms: Math.round(performance.now() - s0) });
        return { agent: a.name, output };
      }),
    );
    const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    for (const [i, r] of results.entries()) {
      if (r.status === "rejected") {
        await send("agent_error", { agent: agents[i]!.name, status: "error", error: { code: "upstream_error", message: String(r.reason) } });
      }
    }
    if (ok.length === 0) return void (await send("error", { code: "all_agents_failed", message: "every agent failed" }));

    const user = [`## Question\n\n${message}`, "## Agent answers", ...ok.map((r) => `### ${r.agent}\n\n${r.output}`)].join("\n\n");
    try {
      const summary = await complete(summarizer, user, signal, (delta) => send("summary_delta", { delta }));
      await send("done", {
        message_id,
        status: ok.length === agents.length ? "ok" : "partial",
        agents: { ok: ok.length, failed: agents.length - ok.length },
        summary,
        latency_ms: Math.round(performance.now() - t0),
      });
    } catch (e) {
      await send("error", { code: "summarizer_failed", message: String(e) });
    }
  });
});

serve({ fetch: app.fetch, hostname: "127.0.0.1", port: Number(process.env.PORT ?? 9100) });
