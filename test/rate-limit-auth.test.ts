// Rate limiting per caller (IP, trusted proxy hops, API key) and API-key authentication.
import { afterEach, describe, expect, it } from "vitest";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

let chorus: TestChorus | undefined;
afterEach(async () => {
  await chorus?.close();
  chorus = undefined;
});

const body = (n: number) => ({ message: "hi", message_id: `rl-${n}`, agents: ["critic"] });

describe("rate limiting", () => {
  it("charges every request, valid or not, sets RateLimit-* headers, then answers 429 with Retry-After", async () => {
    chorus = await startChorus({ RATE_LIMIT_POINTS: "3", RATE_LIMIT_WINDOW_S: "30" });
    const ok = await chorus.post(body(1));
    expect(ok.status).toBe(200);
    expect(ok.headers.get("ratelimit-limit")).toBe("3");
    expect(ok.headers.get("ratelimit-remaining")).toBe("2");
    expect(Number(ok.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
    await ok.text();
    const bad = await chorus.post("{not json");
    expect(bad.status).toBe(400);
    expect(bad.headers.get("ratelimit-remaining")).toBe("1");
    await (await chorus.post(body(2))).text();
    const limited = await chorus.post(body(3));
    expect(limited.status).toBe(429);
    expect((await limited.json()).error.code).toBe("rate_limited");
    const retry = Number(limited.headers.get("retry-after"));
    expect(Number.isInteger(retry) && retry >= 1 && retry <= 30).toBe(true);
    expect(limited.headers.get("ratelimit-remaining")).toBe("0");
    // Reads cost nothing.
    for (let i = 0; i < 5; i++) expect((await fetch(`${chorus.url}/health`)).status).toBe(200);
  });

  it("keys on the socket peer by default: a forged X-Forwarded-For does not buy a new budget", async () => {
    chorus = await startChorus({ RATE_LIMIT_POINTS: "1" });
    await (await chorus.post(body(1), { "x-forwarded-for": "1.1.1.1" })).text();
    expect((await chorus.post(body(2), { "x-forwarded-for": "2.2.2.2" })).status).toBe(429);
  });

  it("with TRUST_PROXY=1 keys on the entry our proxy added, ignoring what the client wrote before it", async () => {
    chorus = await startChorus({ RATE_LIMIT_POINTS: "1", TRUST_PROXY: "1" });
    await (await chorus.post(body(1), { "x-forwarded-for": "6.6.6.6, 10.0.0.1" })).text();
    // Same real client (10.0.0.1 as seen by our proxy), different forged left part: limited.
    expect((await chorus.post(body(2), { "x-forwarded-for": "7.7.7.7, 10.0.0.1" })).status).toBe(429);
    // Another real client: its own budget.
    expect((await chorus.post(body(3), { "x-forwarded-for": "10.0.0.2" })).status).toBe(200);
  });
});

describe("API keys", () => {
  it("needs a valid Bearer key on /api/* when API_KEYS is set, leaves /health open, never logs keys", async () => {
    chorus = await startChorus({ API_KEYS: "key-alpha-111,key-beta-222", RATE_LIMIT_POINTS: "1" });
    for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: "key-alpha-111" }] as Record<string, string>[]) {
      const res = await chorus.post(body(1), headers);
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe("unauthorized");
    }
    const ok = await chorus.post(body(2), { authorization: "Bearer key-beta-222" });
    expect(ok.status).toBe(200);
    await ok.text();
    // The budget is per key: the other key still has its own.
    expect((await chorus.post(body(3), { authorization: "Bearer key-beta-222" })).status).toBe(429);
    const other = await chorus.post(body(4), { authorization: "Bearer key-alpha-111" });
    expect(other.status).toBe(200);
    await other.text();
    expect((await fetch(`${chorus.url}/health`)).status).toBe(200);
    expect(chorus.logText()).not.toMatch(/key-alpha|key-beta/);
  });
});
