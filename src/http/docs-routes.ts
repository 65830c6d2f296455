// GET /openapi.json and GET /docs: the OpenAPI document, and the same document rendered on the
// server as one self-contained HTML page (no script, no CDN: it works offline and under a CSP
// that allows nothing but its own inline style).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Hono } from "hono";
import type { AppEnv } from "./app-env.js";
import { openApiDocument, type OpenApiDocument, type OpenApiOptions } from "./openapi.js";

/** package.json sits two levels above this module both as src/http/*.ts and as dist/http/*.js. */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!);

/** Markdown code spans (`x`) in escaped text, as <code>: the descriptions are written in Markdown. */
const codeSpans = (html: string) => html.replace(/`([^`\n]+)`/g, "<code>$1</code>");

/** Escaped prose with its code spans rendered. */
const prose = (s: string) => codeSpans(escapeHtml(s));

/** Pretty JSON with every `$ref` to a component turned into a link to it. */
const jsonBlock = (value: unknown) =>
  `<pre>${codeSpans(escapeHtml(JSON.stringify(value, null, 2))).replace(
    /&quot;#\/components\/schemas\/([\w-]+)&quot;/g,
    (_, name: string) => `<a href="#schema-${name}">&quot;#/components/schemas/${name}&quot;</a>`,
  )}</pre>`;

const BASE = "http://localhost:8080";
const JSON_HEADER = "-H 'content-type: application/json'";

/** Example requests where a bare URL would not do: a body, a header worth knowing. */
const EXAMPLES: Record<string, string> = {
  "post /api/process": `curl -N ${BASE}/api/process ${JSON_HEADER} \\\n  -d '{"message": "Why is the sky blue?", "message_id": "demo-1"}'`,
  "get /api/process/{message_id}/events": `curl -N ${BASE}/api/process/demo-1/events -H 'Last-Event-ID: 3'`,
  "post /v1/chat/completions":
    `curl -N ${BASE}/v1/chat/completions ${JSON_HEADER} \\\n  -d '{"model": "chorus", "stream": true, "messages": [{"role": "user", "content": "Why is the sky blue?"}]}'`,
};
const PATH_EXAMPLES: Record<string, string> = { message_id: "demo-1", conversation_id: "trip", model: "chorus" };

/** A curl command for the operation, with example values for its path parameters. */
function curlExample(path: string, method: string, op: Pick<Operation, "security">): string {
  const url = BASE + path.replace(/\{(\w+)\}/g, (_, name: string) => PATH_EXAMPLES[name] ?? name);
  const cmd = EXAMPLES[`${method} ${path}`] ?? `curl${method === "get" ? "" : ` -X ${method.toUpperCase()}`} ${url}`;
  const key = op.security ? `<p>With API_KEYS set, add <code>-H "Authorization: Bearer $KEY"</code>.</p>` : "";
  return `<h4>Example</h4><pre>${escapeHtml(cmd)}</pre>${key}`;
}

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#222}
h2{margin-top:2.5rem;border-bottom:1px solid #ddd}
section{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.method{display:inline-block;min-width:4.5rem;font-weight:bold;font-family:monospace}
code,pre{font-family:ui-monospace,monospace;font-size:13px}
pre{background:#f6f8fa;padding:.75rem;border-radius:4px;white-space:pre-wrap;overflow-wrap:anywhere}
td,th{text-align:left;vertical-align:top;padding:.2rem .6rem .2rem 0}
.desc{white-space:pre-wrap}
`;

interface Media {
  schema?: { $ref?: string; description?: string };
  "x-sse-events"?: Record<string, { $ref: string }>;
}

/** A schema that is only a reference shows as a link to it; anything else as JSON. */
function schemaView(schema: Media["schema"]): string {
  const name = schema?.$ref?.replace("#/components/schemas/", "");
  if (name && Object.keys(schema!).length === 1) return ` → <a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>`;
  if (schema?.description && Object.keys(schema).length <= 2) return `<p class="desc">${prose(schema.description)}</p>`;
  return jsonBlock(schema);
}

function mediaView(type: string, media: Media): string {
  const events = Object.entries(media["x-sse-events"] ?? {}).map(
    ([event, r]) => `<li><code>${escapeHtml(event)}</code>${schemaView(r)}</li>`,
  );
  return `<div><code>${escapeHtml(type)}</code>${schemaView(media.schema)}${events.length ? `<ul>${events.join("")}</ul>` : ""}</div>`;
}

interface Operation {
  summary?: string;
  description?: string;
  security?: unknown[];
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: unknown }[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { description: string; content?: Record<string, Media> }>;
}

function renderOperation(path: string, method: string, op: Operation): string {
  const parts = [
    `<section id="${escapeHtml(`${method}-${path}`)}">`,
    `<h3><span class="method">${method.toUpperCase()}</span><code>${escapeHtml(path)}</code></h3>`,
    `<p><strong>${prose(op.summary ?? "")}</strong>${op.security ? " (Bearer key when API_KEYS is set)" : ""}</p>`,
  ];
  if (op.description) parts.push(`<p class="desc">${prose(op.description)}</p>`);
  parts.push(curlExample(path, method, op));
  if (op.parameters?.length) {
    const rows = op.parameters.map(
      (p) =>
        `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}${p.required ? ", required" : ""}</td>` +
        `<td>${prose(p.description ?? "")}</td><td><code>${escapeHtml(JSON.stringify(p.schema ?? {}))}</code></td></tr>`,
    );
    parts.push(`<h4>Parameters</h4><table>${rows.join("")}</table>`);
  }
  if (op.requestBody) {
    for (const [type, media] of Object.entries(op.requestBody.content)) {
      parts.push(`<h4>Request body</h4>${mediaView(type, media)}`);
    }
  }
  const rows = Object.entries(op.responses).map(([status, r]) => {
    const content = Object.entries(r.content ?? {})
      .map(([type, media]) => mediaView(type, media))
      .join("");
    return `<tr><td><code>${escapeHtml(status)}</code></td><td>${prose(r.description)}${content}</td></tr>`;
  });
  parts.push(`<h4>Responses</h4><table>${rows.join("")}</table></section>`);
  return parts.join("\n");
}

export function renderDocsPage(doc: OpenApiDocument): string {
  const entries = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item as Record<string, Operation>).map(([method, op]) => ({ path, method, op })),
  );
  const operations = entries.map(({ path, method, op }) => renderOperation(path, method, op));
  const toc = entries.map(
    ({ path, method, op }) =>
      `<li><a href="#${escapeHtml(`${method}-${path}`)}"><span class="method">${method.toUpperCase()}</span><code>${escapeHtml(path)}</code></a> ${prose(op.summary ?? "")}</li>`,
  );
  const schemas = Object.entries(doc.components.schemas).map(
    ([name, schema]) => `<section id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3>${jsonBlock(schema)}</section>`,
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.info.title)} API ${escapeHtml(doc.info.version)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(doc.info.title)} API <small>${escapeHtml(doc.info.version)}</small></h1>
<p class="desc">${prose(doc.info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escapeHtml(doc.openapi)}).</p>
<h2>Routes</h2>
<ul>${toc.join("\n")}</ul>
${operations.join("\n")}
<h2>Schemas</h2>
${schemas.join("\n")}
</body>
</html>
`;
}

// The page runs no script and loads nothing: only its inline style (by hash) is allowed.
const CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash("sha256").update(STYLE).digest("base64")}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export function docsRoutes(opts: Omit<OpenApiOptions, "version">) {
  // Built once: the document depends only on the configuration.
  const doc = openApiDocument({ ...opts, version: packageVersion() });
  const json = JSON.stringify(doc);
  const html = renderDocsPage(doc);
  const app = new Hono<AppEnv>();
  app.get("/openapi.json", (c) => c.body(json, 200, { "content-type": "application/json; charset=utf-8" }));
  app.get("/docs", (c) =>
    c.html(html, 200, { "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache" }),
  );
  return app;
}
