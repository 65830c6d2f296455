// The `chorus` command-line client, spawned as a real process against a real listening Chorus
// (built-in mock LLM): its output, its exit codes, --json, --resume, keys, and resuming after a
// dropped connection. The terminal view is checked on a small virtual screen.
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HumanView } from "../src/cli/run-view.js";
import { parseEvent } from "../src/run/events.js";
import { SseParser } from "../src/cli/sse-frames.js";
import { freePort } from "./support/free-port.js";
import { readSse } from "./support/sse-client.js";
import { runCli } from "./support/run-cli.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function chorusWith(env: Record<string, string> = {}): Promise<TestChorus> {
  const c = await startChorus({ MOCK_TOKEN_DELAY_MS: "5", ...env });
  servers.push(c);
  return c;
}

const lines = (s: string) => s.split("\n").filter(Boolean);
const jsonLines = (s: string) => lines(s).map((l) => JSON.parse(l) as { id: number; event: string; data: any });

describe("chorus QUESTION", () => {
  it("prints a ✓/✗ line per agent, the summary, and the status; exit 0", async () => {
    const chorus = await chorusWith({ MOCK_FAIL_AGENTS: "critic" });
    const r = await runCli(["Why is the sky blue?"], { CHORUS_URL: chorus.url });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out.find((l) => l.startsWith("✓ analyst"))).toMatch(/^✓ analyst {4}done in \d+(\.\d)? (ms|s)$/);
    expect(out.find((l) => l.startsWith("✓ explainer"))).toMatch(/^✓ explainer  done in \d+(\.\d)? (ms|s)$/);
    expect(out.find((l) => l.startsWith("✗ critic"))).toMatch(
      /^✗ critic {5}failed after \d+(\.\d)? (ms|s) \(upstream_error: mock LLM failure \(injected\)\)$/,
    );
    // The mock's summary: about the question, naming who answered and who failed, marked as mock.
    expect(out[3]).toMatch(/^\[mock\] Combining the views of analyst and explainer \(critic failed, so that view is missing\)\. On sky and blue: /);
    expect(out[4]).toBe("(Mock output: set USE_LLM_MOCK=false and LLM_KEY in .env for real answers.)");
    expect(out[5]).toMatch(/^status: partial — 2 of 3 agents answered · total \d+(\.\d)? (ms|s) · \$\d+\.\d{6}$/);
    expect(out[6]).toBe("degraded: failed: critic");
    expect(out).toHaveLength(7);
    // Not a terminal: no cursor movement, no spinner.
    expect(r.stdout).not.toContain("\x1b");
  });

  it("--json prints every event as one JSON line, ending with done", async () => {
    const chorus = await chorusWith();
    const r = await runCli(["--json", "--id", "cli-json-1", "Explain tides"], { CHORUS_URL: chorus.url });
    expect(r.code).toBe(0);
    const events = jsonLines(r.stdout);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]).toEqual({ id: 1, event: "start", data: { message_id: "cli-json-1", agents: ["analyst", "critic", "explainer"] } });
    const done = events.at(-1)!;
    expect(done.event).toBe("done");
    expect(done.data.status).toBe("ok");
    const streamed = events.filter((e) => e.event === "summary_delta").map((e) => e.data.delta).join("");
    expect(streamed).toBe(done.data.summary);
  });

  it("--agents asks only those agents", async () => {
    const chorus = await chorusWith();
    const r = await runCli(["--agents", "analyst,explainer", "Explain tides"], { CHORUS_URL: chorus.url });
    expect(r.code).toBe(0);
    expect(lines(r.stdout).filter((l) => /^[✓✗] /.test(l)).map((l) => l.split(/\s+/)[1]).sort()).toEqual(["analyst", "explainer"]);
    expect(r.stdout).toContain("status: ok — all 2 agents answered");
  });

  it("exits 1 when the run ends with an error event, and says why", async () => {
    const chorus = await chorusWith({ MOCK_FAIL_AGENTS: "analyst,critic,explainer" });
    const r = await runCli(["Anything"], { CHORUS_URL: chorus.url });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: all_agents_failed: every agent failed; no summary was made\n");
    expect(lines(r.stdout).filter((l) => l.startsWith("✗ "))).toHaveLength(3);
    expect(r.stdout).not.toContain("status:");
  });
});

describe("chorus --conversation", () => {
  it("follow-up questions with the same --conversation become the turns of one conversation, in order", async () => {
    const chorus = await chorusWith();
    const first = await runCli(["--conversation", "trip", "--id", "cli-conv-1", "Where should I go?"], { CHORUS_URL: chorus.url });
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const second = await runCli(["--conversation", "trip", "--id", "cli-conv-2", "--json", "And in winter?"], { CHORUS_URL: chorus.url });
    expect(second.code).toBe(0);
    expect(jsonLines(second.stdout).at(-1)!.event).toBe("done");

    // The server records a turn as its run ends; give it a moment rather than racing it.
    const turns = async () => {
      const res = await fetch(`${chorus.url}/api/conversations/trip`);
      return res.ok ? ((await res.json()) as { turns: { message_id: string; message: string; status: string; summary: string }[] }).turns : [];
    };
    await expect.poll(async () => (await turns()).length, { timeout: 15_000, interval: 50 }).toBe(2);
    const got = await turns();
    expect(got.map((t) => [t.message_id, t.message, t.status])).toEqual([
      ["cli-conv-1", "Where should I go?", "ok"],
      ["cli-conv-2", "And in winter?", "ok"],
    ]);
    expect(got[1]!.summary).toBe(jsonLines(second.stdout).at(-1)!.data.summary);
    // Another conversation id is another conversation.
    expect((await fetch(`${chorus.url}/api/conversations/other-trip`)).status).toBe(404);
  });

  it("is in the usage text; an id the server refuses is exit 2; it does not go with --resume", async () => {
    expect((await runCli(["--help"])).stdout).toContain('chorus --conversation trip "And in winter?"');
    const chorus = await chorusWith();
    const bad = await runCli(["--conversation", "no spaces allowed", "Hello"], { CHORUS_URL: chorus.url });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^chorus: 400 invalid_request: conversation_id: /);
    const resume = await runCli(["--resume", "--id", "x", "--conversation", "trip"]);
    expect(resume.code).toBe(2);
    expect(resume.stderr).toContain("chorus: --conversation starts a run: it does not go with --resume");
  });
});

describe("refusals and usage: exit 2 with the contract's message", () => {
  it("a message over MAX_MESSAGE_CHARS", async () => {
    const chorus = await chorusWith({ MAX_MESSAGE_CHARS: "10" });
    const r = await runCli(["This is longer than ten characters"], { CHORUS_URL: chorus.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("chorus: 400 invalid_request: message: must be at most 10 characters\n");
    expect(r.stdout).toBe("");
  });

  it("a server with API keys: refused without one, served with CHORUS_API_KEY or --key", async () => {
    const chorus = await chorusWith({ API_KEYS: "cli-secret" });
    const refused = await runCli(["Hello"], { CHORUS_URL: chorus.url });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe("chorus: 401 unauthorized: a valid API key is required (Authorization: Bearer <key>)\n");
    expect((await runCli(["Hello"], { CHORUS_URL: chorus.url, CHORUS_API_KEY: "cli-secret" })).code).toBe(0);
    expect((await runCli(["--url", chorus.url, "--key", "cli-secret", "Hello"])).code).toBe(0);
  });

  it("a server that is not there", async () => {
    const port = await freePort();
    const r = await runCli(["--url", `http://127.0.0.1:${port}`, "Hello"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `chorus: cannot reach http://127.0.0.1:${port}: ECONNREFUSED (from --url); is Chorus running there? Start it with \`make run\`, ` +
        "or point the CLI at it with --url, CHORUS_URL=http://host:port, or HTTP_ADDR=host:port (as in .env)\n",
    );
    // Without --url or CHORUS_URL, the server's own HTTP_ADDR (":PORT" listens everywhere: ask loopback).
    const viaAddr = await runCli(["Hello"], { HTTP_ADDR: `:${port}` });
    expect(viaAddr.stderr).toMatch(new RegExp(`^chorus: cannot reach http://127\\.0\\.0\\.1:${port}: ECONNREFUSED \\(from HTTP_ADDR\\);.*CHORUS_URL`));
  });

  it("finds the server from HTTP_ADDR when CHORUS_URL is not set; CHORUS_URL wins", async () => {
    const chorus = await chorusWith();
    const port = new URL(chorus.url).port;
    const r = await runCli(["Why is the sky blue?"], { HTTP_ADDR: `0.0.0.0:${port}` });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("[mock] Combining the views");
    const wins = await runCli(["Hello"], { HTTP_ADDR: `127.0.0.1:${port}`, CHORUS_URL: `http://127.0.0.1:${await freePort()}` });
    expect(wins.stderr).toMatch(/\(from CHORUS_URL\)/);
  });

  it("no question, or --resume without --id, prints the usage", async () => {
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('chorus: give a question, e.g. chorus "Explain gravity like I am 5"');
    expect(none.stderr).toContain("Usage: chorus [options]");
    const resume = await runCli(["--resume"]);
    expect(resume.code).toBe(2);
    expect(resume.stderr).toContain("chorus: --resume needs --id MESSAGE_ID");
  });
});

describe("chorus --resume", () => {
  it("replays a finished run from the start, or after --last-event-id", async () => {
    const chorus = await chorusWith();
    const original = await readSse(`${chorus.url}/api/process`, { message: "Explain tides", message_id: "cli-resume-1" });
    const replay = await runCli(["--resume", "--id", "cli-resume-1", "--json"], { CHORUS_URL: chorus.url });
    expect(replay.code).toBe(0);
    expect(jsonLines(replay.stdout)).toEqual(original.events.map(({ id, event, data }) => ({ id, event, data })));

    const tail = await runCli(["--resume", "--id", "cli-resume-1", "--last-event-id", "3", "--json"], { CHORUS_URL: chorus.url });
    expect(jsonLines(tail.stdout)[0]!.id).toBe(4);

    const unknown = await runCli(["--resume", "--id", "no-such-run"], { CHORUS_URL: chorus.url });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("chorus: 404 run_not_found: no such run, or it has expired\n");
  });

  it("picks the run up from the last event id when the connection drops mid-stream", async () => {
    // A stand-in server: the POST stream breaks after 3 events; the resume must ask for the rest.
    const frame = (id: number, event: string, data: object) => `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    const events = [
      frame(1, "start", { message_id: "drop-1", agents: ["analyst"] }),
      frame(2, "agent_start", { agent: "analyst" }),
      ": ping\n\n",
      frame(3, "agent_done", { agent: "analyst", status: "ok", output: "fine", latency_ms: 12 }),
      frame(4, "summary_delta", { delta: "All " }),
      frame(5, "summary_delta", { delta: "good." }),
      frame(6, "done", { message_id: "drop-1", status: "ok", agents: { ok: 1, failed: 0 }, summary: "All good.", latency_ms: 40 }),
    ];
    const resumedWith: (string | undefined)[] = [];
    const server: Server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
      if (req.method === "POST") {
        res.write(events.slice(0, 4).join(""), () => res.socket?.destroy());
      } else {
        resumedWith.push(req.headers["last-event-id"] as string | undefined);
        // Replays from the start: the client must skip what it has already shown.
        res.end(events.join(""));
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    servers.push({ close: () => new Promise((r) => server.close(() => r())) });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const r = await runCli(["--url", url, "--id", "drop-1", "Hello"]);
    expect(r.code).toBe(0);
    expect(resumedWith).toEqual(["3"]);
    expect(lines(r.stdout)).toEqual(["✓ analyst  done in 12 ms", "All good.", "status: ok — 1 of 1 agent answered · total 40 ms"]);
  });
});

describe("Ctrl-C", () => {
  it("stops the run with DELETE, shows how it ended, and exits 1", async () => {
    const chorus = await chorusWith({ MOCK_TOKEN_DELAY_MS: "60" });
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/chorus.ts", "--url", chorus.url, "--id", "cli-stop-1", "Take your time"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    await expect.poll(() => chorus.chorus.registry.get("cli-stop-1")?.inFlight, { timeout: 20_000 }).toBe(true);
    child.kill("SIGINT");
    expect(await exited).toBe(1);
    expect(stderr).toContain("chorus: stopping run cli-stop-1");
    expect(stderr).toContain("error: cancelled: the run was cancelled");
    const events = chorus.chorus.registry.get("cli-stop-1")!.log.events;
    expect(events[events.length - 1]).toMatchObject({ event: "error", data: { code: "cancelled" } });
  });
});

describe("reading the event stream", () => {
  it("gets the same events whatever the chunking and line endings, skipping comments", () => {
    const lf = `: ping\n\nid: 1\nevent: start\ndata: {"agents":["a"]}\n\nid: 2\nevent: summary_delta\ndata: {"delta":"x"}\n\n`;
    const expected = [
      { id: "1", event: "start", data: '{"agents":["a"]}' },
      { id: "2", event: "summary_delta", data: '{"delta":"x"}' },
    ];
    for (const text of [lf, lf.replaceAll("\n", "\r\n")]) {
      for (let size = 1; size <= text.length; size++) {
        const parser = new SseParser();
        const got = [];
        for (let i = 0; i < text.length; i += size) got.push(...parser.push(text.slice(i, i + size)));
        expect(got).toEqual(expected);
      }
    }
  });
});

describe("the terminal view", () => {
  /** A tiny terminal: applies \r, \n, cursor-up and clear-line to a grid of lines. */
  function screen(output: string): string[] {
    const rows: string[] = [""];
    let row = 0;
    let col = 0;
    for (const part of output.split(/(\x1b\[\d*[A-Za-z]|\r|\n)/)) {
      if (!part) continue;
      const csi = /^\x1b\[(\d*)([A-Za-z])$/.exec(part);
      if (part === "\r") col = 0;
      else if (part === "\n") {
        row++;
        col = 0;
      } else if (csi?.[2] === "A") row -= Number(csi[1] || 1);
      else if (csi?.[2] === "K") rows[row] = "";
      else if (csi) throw new Error(`unexpected escape ${JSON.stringify(part)}`);
      else {
        const line = (rows[row] ?? "").padEnd(col);
        rows[row] = line.slice(0, col) + part + line.slice(col + part.length);
        col += part.length;
      }
      rows[row] ??= "";
    }
    return rows;
  }

  it("redraws each agent's line in place and leaves one final line per agent", async () => {
    const chorus = await chorusWith({ MOCK_FAIL_AGENTS: "critic" });
    const run = await readSse(`${chorus.url}/api/process`, { message: "Why is the sky blue?", message_id: "tty-1" });
    let out = "";
    let err = "";
    const view = new HumanView({ write: (t: string) => (out += t), isTTY: true, columns: 60 }, { write: (t: string) => (err += t) });
    for (const e of run.events) view.show(parseEvent(e.id!, e.event, e.data));
    view.close();

    expect(out).toContain("\x1b[3A"); // it went back up to redraw the three lines
    const rows = screen(out);
    expect(rows.slice(0, 3)).toEqual([
      expect.stringMatching(/^✓ analyst {4}done in \d+(\.\d)? (ms|s)$/),
      expect.stringMatching(/^✗ critic {5}failed after \d+(\.\d)? (ms|s) \(upstream_error: .*…$/),
      expect.stringMatching(/^✓ explainer  done in /),
    ]);
    // Lines are cut to the terminal's width, so a redraw never has to undo a wrapped line.
    expect(rows[1]).toHaveLength(59);
    expect(rows[3]).toBe("");
    expect(rows[4]).toMatch(/^\[mock\] Combining the views of analyst and explainer/);
    expect(rows[6]).toMatch(/^\(Mock output: /);
    expect(rows.slice(7).find(Boolean)).toMatch(/^status: partial — 2 of 3 agents answered/);
    expect(err).toBe("");
  });
});
