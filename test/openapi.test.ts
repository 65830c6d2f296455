// GET /openapi.json and GET /docs on a real server: the document covers the contract's routes,
// and its request schemas say what the validation actually accepts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

let chorus: TestChorus;
let doc: any;
beforeAll(async () => {
  chorus = await startChorus({ MAX_MESSAGE_CHARS: "20", API_KEYS: "key-docs-1" });
  const res = await fetch(`${chorus.url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  doc = await res.json();
});
afterAll(() => chorus.close());

const auth = { authorization: "Bearer key-docs-1" };

/** POSTs to /api/process and returns the status, closing any stream at once. */
async function processStatus(body: object): Promise<{ status: number; field?: string }> {
  const res = await chorus.post(body, auth);
  if (res.status === 200) {
    await res.body?.cancel();
    return { status: 200 };
  }
  const err = (await res.json()).error;
  return { status: res.status, field: err.details?.[0]?.field };
}

describe("/openapi.json", () => {
  it("is an OpenAPI 3.1 document, public, describing every route of the contract", () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: "Chorus", version: expect.any(String) });
    const routes = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item as object).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routes).toEqual(
      expect.arrayContaining([
        "POST /api/process",
        "GET /api/process/{message_id}/events",
        "DELETE /api/process/{message_id}",
        "GET /api/conversations/{conversation_id}",
        "DELETE /api/conversations/{conversation_id}",
        "GET /health",
        "GET /ready",
        "GET /metrics",
        "GET /v1/models",
        "POST /v1/chat/completions",
      ]),
    );
    // Every reference resolves.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(10);
    for (const name of refs) expect(doc.components.schemas[name], name).toBeDefined();
  });

  it("describes the SSE events and both error envelopes", () => {
    const sse = doc.paths["/api/process"].post.responses["200"].content["text/event-stream"];
    expect(Object.keys(sse["x-sse-events"])).toEqual([
      "start",
      "agent_start",
      "agent_delta",
      "agent_done",
      "agent_error",
      "review_start",
      "review_done",
      "review_error",
      "ranking",
      "analysis",
      "analysis_error",
      "summary_delta",
      "summary_restart",
      "takeover",
      "done",
      "error",
    ]);
    expect(doc.components.schemas.SseEvent_done.required).toEqual(expect.arrayContaining(["message_id", "status", "summary"]));
    expect(doc.components.schemas.ErrorEnvelope.properties.error.required).toEqual(["code", "message"]);
    expect(doc.components.schemas.OpenAIError.properties.error.required).toEqual(["message", "type", "param", "code"]);
    expect(doc.paths["/v1/chat/completions"].post.responses["404"].content["application/json"].schema.$ref).toBe(
      "#/components/schemas/OpenAIError",
    );
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("states the message_id rule the server applies", async () => {
    const schema = doc.components.schemas.ProcessRequest;
    expect(schema.required).toEqual(["message", "message_id"]);
    const pattern = new RegExp(schema.properties.message_id.pattern, "u");
    const ids = ["ok-1", "a:b.c_D9", "x".repeat(128), "x".repeat(129), "", "has space", "émoji", "slash/no"];
    for (const id of ids) {
      const res = await processStatus({ message: "hi", message_id: id, agents: ["critic"] });
      expect(res.status === 200, `id ${JSON.stringify(id)}`).toBe(pattern.test(id));
      if (res.status !== 200) expect(res.field).toBe("message_id");
    }
  });

  it("states the message rules the server applies: not blank, at most MAX_MESSAGE_CHARS code points", async () => {
    const message = doc.components.schemas.ProcessRequest.properties.message;
    expect(message.maxLength).toBe(20);
    const blank = new RegExp(message.pattern, "u");
    // JSON Schema counts code points, as the server does: 20 emoji are 40 UTF-16 units but 20 characters.
    const cases = ["🙂".repeat(20), "🙂".repeat(21), "  \n\t ", " a "];
    for (const [i, text] of cases.entries()) {
      const schemaSays = [...text].length <= message.maxLength && blank.test(text);
      const res = await processStatus({ message: text, message_id: `len-${i}`, agents: ["critic"] });
      expect(res.status === 200, `message ${JSON.stringify(text)}`).toBe(schemaSays);
    }
  });

  it("lists the configured agents, and requires model and messages for chat completions", async () => {
    const agents = doc.components.schemas.ProcessRequest.properties.agents;
    expect(agents.items.enum).toEqual(["analyst", "critic", "explainer"]);
    expect(agents.uniqueItems).toBe(true);
    expect((await processStatus({ message: "hi", message_id: "ag-1", agents: ["poet"] })).field).toBe("agents.0");
    expect((await processStatus({ message: "hi", message_id: "ag-2", agents: ["critic", "critic"] })).field).toBe("agents");

    const chat = doc.components.schemas.ChatCompletionRequest;
    expect(chat.required).toEqual(["model", "messages"]);
    expect(chat.properties.messages.items.properties.role.enum).toEqual(["system", "developer", "user", "assistant"]);
  });
});

describe("/docs", () => {
  it("is a self-contained HTML page of the same document: no script, nothing loaded from elsewhere", async () => {
    const res = await fetch(`${chorus.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toMatch(/^<!doctype html>/i);
    for (const path of Object.keys(doc.paths)) expect(html).toContain(path.replaceAll("&", "&amp;"));
    expect(html).toContain('href="/openapi.json"');
    expect(html).toContain('id="schema-ProcessRequest"');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)="https?:/i);
  });

  it("renders the descriptions' code spans as <code> (no literal backticks) and shows a curl example per route", async () => {
    const html = await (await fetch(`${chorus.url}/docs`)).text();
    expect(html).not.toContain("`");
    expect(html).toContain("<code>chat.completion.chunk</code>");
    const sections = html.split('<section id="').slice(1).filter((s) => !s.startsWith("schema-"));
    const operations = Object.values(doc.paths).flatMap((item) => Object.keys(item as object));
    expect(sections).toHaveLength(operations.length);
    for (const section of sections) {
      const [, example] = /<h4>Example<\/h4><pre>(curl [^<]+)<\/pre>/.exec(section) ?? [];
      expect(example, section.slice(0, 60)).toMatch(/^curl (-N |-X [A-Z]+ )?http:\/\/localhost:8080\//);
    }
    // A POST shows its body, with example values for the path.
    expect(html).toContain("curl -N http://localhost:8080/api/process -H &#39;content-type: application/json&#39;");
    expect(html).toContain("curl -X DELETE http://localhost:8080/api/process/demo-1");
  });
});
