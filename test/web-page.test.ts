// The web page at `/` in a real browser: headless Debian chromium driven by playwright-core,
// against a real listening Chorus with the built-in mock LLM. Install chromium with
// `test/system-deps.sh chromium=chromium` (make test does). Screenshots go to test-output/.
import { mkdirSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

const OUT = "test-output";
let browser: Browser;
const open: { context?: BrowserContext; chorus?: TestChorus }[] = [];

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-quic",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.context?.close();
    await o.chorus?.close();
  }
});

interface Opened {
  chorus: TestChorus;
  page: Page;
  /** Console errors and uncaught exceptions (CSP violations show up here). */
  problems: string[];
}

async function openPage(env: Record<string, string>, width = 1000): Promise<Opened> {
  const chorus = await startChorus(env);
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  open.push({ chorus, context });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(`${chorus.url}/`);
  return { chorus, page, problems };
}

const lane = (page: Page, agent: string) => page.locator(`#lanes li[data-agent="${agent}"]`);
const status = (page: Page) => page.locator("#status");
/** expect.poll with room for a busy 2-core machine (its default gives up after 1 s). */
const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 15_000, interval: 50 });

describe("a run in the browser", () => {
  it("shows every agent's lane, streams the summary, and ends with status partial", async () => {
    const { page, problems } = await openPage({ MOCK_FAIL_AGENTS: "critic", MOCK_TOKEN_DELAY_MS: "10" });
    await page.getByLabel("Your message").fill("Why is the sky blue?");
    await page.getByLabel("Stream agent text").check();
    await page.getByLabel("Your message").press("Enter");

    // Once sent, the question leaves the box and shows above the run.
    await poll(() => page.locator("#asked").textContent()).toBe("You asked: Why is the sky blue?");
    expect(await page.getByLabel("Your message").inputValue()).toBe("");

    // The summary is visible while it is still being written, before the run's final status.
    await page.waitForFunction(
      () => (document.getElementById("summary")?.textContent ?? "").length > 0 && !document.getElementById("status")?.dataset.status,
      undefined,
      { polling: 20 },
    );
    await poll(() => status(page).getAttribute("data-status")).toBe("partial");

    for (const agent of ["analyst", "explainer"]) {
      await poll(() => lane(page, agent).getAttribute("data-state")).toBe("ok");
      expect(await lane(page, agent).locator(".lane-state").textContent()).toMatch(/^✓ done in \d+(\.\d)? (ms|s)$/);
      // stream_agents was on: the agent's own text is shown, open.
      expect(await lane(page, agent).locator(".lane-text").textContent()).toMatch(new RegExp(`^\\[mock\\] ${agent} on sky and blue:`, "i"));
      expect(await lane(page, agent).locator("details").getAttribute("open")).not.toBeNull();
    }
    expect(await lane(page, "critic").getAttribute("data-state")).toBe("failed");
    expect(await lane(page, "critic").locator(".lane-state").textContent()).toMatch(/^✗ failed after \d+(\.\d)? (ms|s)$/);
    expect(await lane(page, "critic").locator(".lane-reason").textContent()).toBe("upstream_error: mock LLM failure (injected)");

    expect(await page.locator("#summary").textContent()).toMatch(/^\[mock\] Combining the views of analyst and explainer \(critic failed.*On \S+/);
    expect(await status(page).textContent()).toMatch(/^Status: partial — 2 of 3 agents answered · total \d+(\.\d)? (ms|s) · \$\d\.\d{4} · degraded: critic failed$/);
    expect(await page.locator("#error").isHidden()).toBe(true);
    // The send button is usable again for the next question.
    expect(await page.getByRole("button", { name: "Send" }).isEnabled()).toBe(true);
    // A finished run leaves the box empty for the next question, the asked one still shown.
    expect(await page.getByLabel("Your message").inputValue()).toBe("");
    expect(await page.locator("#asked").isVisible()).toBe(true);
    expect(problems).toEqual([]);
    await page.screenshot({ path: `${OUT}/web-page.png`, fullPage: true });
  });

  it("Shift+Enter adds a new line instead of sending", async () => {
    const { page } = await openPage({});
    const box = page.getByLabel("Your message");
    await box.click();
    await page.keyboard.type("line one");
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type("line two");
    expect(await box.inputValue()).toBe("line one\nline two");
    expect(await status(page).textContent()).toBe("");
    expect(await page.locator("#lanes li").count()).toBe(0);
  });

  it("fits a 375px phone screen without sideways scrolling", async () => {
    const { page } = await openPage({ MOCK_FAIL_AGENTS: "critic", MOCK_TOKEN_DELAY_MS: "10" }, 375);
    await page.getByLabel("Your message").fill(`A long question with a long word ${"x".repeat(120)} in it`);
    await page.getByLabel("Stream agent text").check();
    await page.getByRole("button", { name: "Send" }).click();
    await poll(() => status(page).getAttribute("data-status")).toBe("partial");
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    expect(widths.scroll).toBeLessThanOrEqual(widths.client);
    await page.screenshot({ path: `${OUT}/web-page-375.png`, fullPage: true });
  });

  it("resumes from the last event id when the connection drops mid-run", async () => {
    const { page, problems } = await openPage({ MOCK_TOKEN_DELAY_MS: "10" });
    // Let the real POST run to its end, but hand the page only its first 4 events, then EOF.
    let fullSummary = "";
    await page.route("**/api/process", async (route) => {
      const res = await route.fetch();
      const frames = (await res.text()).split("\n\n").filter(Boolean);
      fullSummary = JSON.parse(frames.at(-1)!.split("\n").find((l) => l.startsWith("data: "))!.slice(6)).summary;
      await route.fulfill({ status: 200, contentType: "text/event-stream; charset=utf-8", body: frames.slice(0, 4).join("\n\n") + "\n\n" });
    });
    const resumedWith: (string | undefined)[] = [];
    page.on("request", (r) => {
      if (r.url().endsWith("/events")) resumedWith.push(r.headers()["last-event-id"]);
    });
    await page.getByLabel("Your message").fill("Explain tides");
    await page.getByRole("button", { name: "Send" }).click();

    await poll(() => status(page).getAttribute("data-status")).toBe("ok");
    expect(resumedWith).toEqual(["4"]);
    for (const agent of ["analyst", "critic", "explainer"]) expect(await lane(page, agent).getAttribute("data-state")).toBe("ok");
    // Continued in place: the replayed events were not drawn twice.
    expect(fullSummary).toContain("[mock] Combining the views of");
    expect(await page.locator("#summary").textContent()).toBe(fullSummary);
    expect(await page.locator("#lanes li").count()).toBe(3);
    expect(problems).toEqual([]);
  });
});

describe("a conversation in the browser", () => {
  const conversationId = (page: Page) => page.locator("#ask").getAttribute("data-conversation-id");
  const serverTurns = async (chorus: TestChorus, id: string) => {
    const res = await fetch(`${chorus.url}/api/conversations/${encodeURIComponent(id)}`);
    if (res.status === 404) return null;
    return ((await res.json()) as { turns: { message_id: string; message: string; summary: string; status: string }[] }).turns;
  };
  const ask = async (page: Page, question: string) => {
    await page.getByLabel("Your message").fill(question);
    await page.getByLabel("Your message").press("Enter");
  };

  it("continues across questions, lists earlier turns above the run, survives a reload; New conversation starts afresh", async () => {
    const { page, chorus, problems } = await openPage({ MOCK_TOKEN_DELAY_MS: "20" });
    const firstId = await conversationId(page);
    expect(firstId).toMatch(/^web-conv-[0-9a-f-]{36}$/);
    expect(await page.evaluate(() => JSON.parse(sessionStorage.getItem("chorus.conversation")!).id)).toBe(firstId);
    expect(await page.locator("#thread-section").isHidden()).toBe(true);

    await ask(page, "Where should I go?");
    await poll(() => status(page).getAttribute("data-status")).toBe("ok");
    const firstSummary = await page.locator("#summary").textContent();
    // The finished turn is the run shown below, not listed twice; the conversation's controls appear.
    expect(await page.locator("#thread li").count()).toBe(0);
    expect(await page.getByRole("button", { name: "New conversation" }).isVisible()).toBe(true);

    await ask(page, "And in winter?");
    // While the second question is being answered, the first turn is listed above it.
    await page.waitForFunction(
      () =>
        document.querySelectorAll("#thread li").length === 1 &&
        document.querySelectorAll("#lanes li").length === 3 &&
        !document.getElementById("status")?.dataset.status,
      undefined,
      { polling: 20 },
    );
    const turn = page.locator("#thread li").first();
    expect(await turn.locator(".turn-q").textContent()).toBe("You asked: Where should I go?");
    expect(await turn.locator(".turn-a").textContent()).toBe(`Summary: ${firstSummary}`);
    await poll(() => status(page).getAttribute("data-status")).toBe("ok");
    expect(await page.locator("#thread li").count()).toBe(1);
    const threadBox = (await page.locator("#thread").boundingBox())!;
    const lanesBox = (await page.locator("#lanes").boundingBox())!;
    expect(threadBox.y + threadBox.height).toBeLessThanOrEqual(lanesBox.y);

    // The server holds both turns under the page's id, in order.
    await poll(async () => (await serverTurns(chorus, firstId!))?.map((t) => [t.message, t.status])).toEqual([
      ["Where should I go?", "ok"],
      ["And in winter?", "ok"],
    ]);
    await page.screenshot({ path: `${OUT}/web-page-conversation.png`, fullPage: true });
    await page.setViewportSize({ width: 375, height: 900 });
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    expect(widths.scroll).toBeLessThanOrEqual(widths.client);
    await page.screenshot({ path: `${OUT}/web-page-conversation-375.png`, fullPage: true });
    await page.setViewportSize({ width: 1000, height: 900 });

    // A reload keeps the conversation: same id, both turns listed.
    await page.reload();
    expect(await conversationId(page)).toBe(firstId);
    await poll(() => page.locator("#thread .turn-q").allTextContents()).toEqual(["You asked: Where should I go?", "You asked: And in winter?"]);

    // "New conversation" is reachable with the keyboard from the message box.
    await page.getByLabel("Your message").focus();
    for (let i = 0; i < 10 && (await page.evaluate(() => document.activeElement?.id)) !== "new-conversation"; i++) await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("new-conversation");
    await page.keyboard.press("Enter");
    const secondId = await conversationId(page);
    expect(secondId).toMatch(/^web-conv-/);
    expect(secondId).not.toBe(firstId);
    expect(await page.evaluate(() => JSON.parse(sessionStorage.getItem("chorus.conversation")!).id)).toBe(secondId);
    expect(await page.locator("#thread-section").isHidden()).toBe(true);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("message");
    expect(await status(page).textContent()).toBe("Started a new conversation.");
    // The old conversation is forgotten on the server too.
    await poll(() => serverTurns(chorus, firstId!)).toBeNull();

    await ask(page, "Somewhere new?");
    await poll(() => status(page).getAttribute("data-status")).toBe("ok");
    await poll(async () => (await serverTurns(chorus, secondId!))?.map((t) => t.message)).toEqual(["Somewhere new?"]);
    expect(await page.locator("#thread li").count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it("a failed run is not a turn of the conversation", async () => {
    const { page, chorus } = await openPage({ MOCK_FAIL_AGENTS: "analyst,critic,explainer", MOCK_TOKEN_DELAY_MS: "10" });
    await ask(page, "Anything at all");
    await poll(() => status(page).getAttribute("data-status")).toBe("error");
    expect(await page.locator("#thread-section").isHidden()).toBe(true);
    expect(await page.evaluate(() => JSON.parse(sessionStorage.getItem("chorus.conversation")!).turns)).toEqual([]);
    expect(await serverTurns(chorus, (await conversationId(page))!)).toBeNull();
  });
});

describe("stopping a run", () => {
  it("Stop cancels the run on the server and shows it as stopped, not failed; the question is back in the box", async () => {
    const { page, chorus, problems } = await openPage({ MOCK_TOKEN_DELAY_MS: "200" });
    await page.getByLabel("Your message").fill("A slow one");
    await page.getByLabel("Your message").press("Enter");
    await poll(() => lane(page, "analyst").getAttribute("data-state")).toBe("running");
    expect(await page.getByLabel("Your message").inputValue()).toBe("");
    await page.getByRole("button", { name: "Stop" }).click();
    await poll(() => status(page).getAttribute("data-status")).toBe("stopped");
    expect(await status(page).textContent()).toMatch(/^Status: stopped \(you pressed Stop\) · total \d+(\.\d)? (ms|s)$/);
    // No failure is reported for what the user asked for.
    expect(await page.locator("#error").isHidden()).toBe(true);
    expect(await page.getByText("The run failed").count()).toBe(0);
    expect(await lane(page, "analyst").locator(".lane-state").textContent()).toMatch(/^✗ cancelled after /);
    // Ready to send again, or edit first.
    expect(await page.getByLabel("Your message").inputValue()).toBe("A slow one");
    expect(chorus.chorus.registry.inFlight).toBe(0);
    expect(await page.getByRole("button", { name: "Stop" }).isHidden()).toBe(true);
    expect(problems).toEqual([]);
  });

  it("a run cancelled by someone else (DELETE from another client) is still reported as failed", async () => {
    const { page, chorus } = await openPage({ MOCK_TOKEN_DELAY_MS: "200" });
    const request = page.waitForRequest((r) => r.url().endsWith("/api/process") && r.method() === "POST");
    await page.getByLabel("Your message").fill("A slow one");
    await page.getByLabel("Your message").press("Enter");
    const messageId = (JSON.parse((await request).postData()!) as { message_id: string }).message_id;
    await poll(() => lane(page, "analyst").getAttribute("data-state")).toBe("running");
    expect((await fetch(`${chorus.url}/api/process/${encodeURIComponent(messageId)}`, { method: "DELETE" })).status).toBe(202);
    await poll(() => status(page).getAttribute("data-status")).toBe("error");
    expect(await page.getByRole("alert").textContent()).toContain("The run was stopped before it finished.");
    expect(await status(page).textContent()).toMatch(/^Status: error \(cancelled\)/);
  });
});

describe("errors, as a person reads them", () => {
  it("all agents failing shows the run error and status error", async () => {
    const { page } = await openPage({ MOCK_FAIL_AGENTS: "analyst,critic,explainer", MOCK_TOKEN_DELAY_MS: "10" });
    await page.getByLabel("Your message").fill("Anything at all");
    await page.getByLabel("Your message").press("Enter");
    await poll(() => status(page).getAttribute("data-status")).toBe("error");
    const alert = page.getByRole("alert");
    expect(await alert.textContent()).toContain("Every agent failed, so no summary could be written.");
    expect(await alert.locator(".code").textContent()).toBe("all_agents_failed: every agent failed; no summary was made");
    expect(await status(page).textContent()).toMatch(/^Status: error \(all_agents_failed\) · total /);
    for (const agent of ["analyst", "critic", "explainer"]) expect(await lane(page, agent).getAttribute("data-state")).toBe("failed");
    expect(await page.locator("#summary-section").isHidden()).toBe(true);
    await page.screenshot({ path: `${OUT}/web-page-all-failed.png`, fullPage: true });
  });

  it("a message over MAX_MESSAGE_CHARS shows the field's error beside the box", async () => {
    const { page } = await openPage({ MAX_MESSAGE_CHARS: "20" });
    await page.getByLabel("Your message").fill("This question is certainly longer than twenty characters");
    await page.getByLabel("Your message").press("Enter");
    await poll(() => page.locator("#message-error").textContent()).toBe("Message must be at most 20 characters.");
    expect(await page.getByLabel("Your message").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByRole("alert").textContent()).toContain("Message: must be at most 20 characters");
    expect(await status(page).textContent()).toBe("Status: not sent (400 invalid_request)");
    // Editing the message clears the field error.
    await page.getByLabel("Your message").fill("Short one");
    expect(await page.locator("#message-error").isHidden()).toBe(true);
  });

  it("a rate limit says how many seconds to wait", async () => {
    const { page } = await openPage({ RATE_LIMIT_POINTS: "1", RATE_LIMIT_WINDOW_S: "60" });
    await page.getByLabel("Your message").fill("First");
    await page.getByLabel("Your message").press("Enter");
    await poll(() => status(page).getAttribute("data-status")).toBe("ok");
    await page.getByLabel("Your message").fill("Second");
    await page.getByLabel("Your message").press("Enter");
    await poll(() => status(page).textContent()).toBe("Status: not sent (429 rate_limited)");
    // Refused before a run started: the question stays in the box.
    expect(await page.getByLabel("Your message").inputValue()).toBe("Second");
    expect(await page.getByRole("alert").textContent()).toMatch(/Too many requests\. Please wait (60|59|58) seconds before sending again\./);
  });

  it("a server with API keys asks for one, and the run works once it is given", async () => {
    const { page } = await openPage({ API_KEYS: "web-test-key" });
    await page.getByLabel("Your message").fill("Hello");
    await page.getByLabel("Your message").press("Enter");
    await poll(() => status(page).textContent()).toBe("Status: not sent (401 unauthorized)");
    expect(await page.getByRole("alert").textContent()).toContain("This server needs an API key.");
    await page.getByLabel(/^API key/).fill("web-test-key");
    await page.getByRole("button", { name: "Send" }).click();
    await poll(() => status(page).getAttribute("data-status")).toBe("ok");
    expect(await page.locator("#error").isHidden()).toBe(true);
  });
});

describe("strategies in the browser", () => {
  it("estimates a council run before sending, then shows each reviewer's ranking and the aggregate", async () => {
    const { page, problems } = await openPage({ MOCK_TOKEN_DELAY_MS: "5" });
    await poll(() => page.locator("#preset option").count()).toBe(6);
    await page.getByLabel("Preset").selectOption("council");
    expect(await page.locator("#preset-hint").textContent()).toMatch(/each ranks all answers anonymised/);
    await page.getByLabel("Your message").fill("Why is the sky blue?");
    await page.getByRole("button", { name: "Estimate cost" }).click();
    await poll(() => page.locator("#estimate-line").textContent()).toMatch(/^Plan: council, 1 round, analyst, critic, explainer — 7 calls, at most \$\d\.\d{4}\.$/);
    expect(await page.locator("#lanes li").count()).toBe(0); // nothing ran

    await page.getByRole("button", { name: "Send" }).click();
    await poll(() => status(page).getAttribute("data-status")).toBe("ok");
    const reviews = await page.locator("#reviews li").allTextContents();
    expect(reviews).toHaveLength(3);
    for (const r of reviews) expect(r).toMatch(/^(analyst|critic|explainer) ranks: \w+ › \w+ › \w+ \(\d+(\.\d)? (ms|s)\)$/);
    const ranking = await page.locator("#ranking li").allTextContents();
    expect(ranking).toHaveLength(3);
    expect(ranking[0]).toMatch(/^\w+ — score \d\.\d\d from 2 reviews$/);
    expect(await status(page).textContent()).toMatch(/^Status: ok — all 3 agents answered · council · total /);
    expect(problems).toEqual([]);
    await page.screenshot({ path: `${OUT}/web-page-council.png`, fullPage: true });
  });

  it("shows the judge's consensus and contradictions, who said what, for a fusion run", async () => {
    const { page, problems } = await openPage({ MOCK_TOKEN_DELAY_MS: "5" });
    await page.getByLabel("Strategy").selectOption("fusion");
    await page.getByLabel("Your message").fill("Why is the sky blue?");
    await page.getByRole("button", { name: "Send" }).click();
    await poll(() => status(page).getAttribute("data-status")).toBe("ok");
    const analysis = page.locator("#analysis");
    expect(await analysis.locator("h3").allTextContents()).toEqual(["Consensus", "Contradictions", "Unique insights", "Blind spots"]);
    const positions = await analysis.locator(".position").allTextContents();
    expect(positions.map((p) => p.split(":")[0]).sort()).toEqual(["analyst", "critic", "explainer"]);
    expect(problems).toEqual([]);
  });
});

describe("serving the page", () => {
  it("serves the page, its ES modules and style with a Content-Security-Policy, and nothing else from public/", async () => {
    const chorus = await startChorus({});
    open.push({ chorus });
    const page = await fetch(`${chorus.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await page.text()).toContain('<label for="message">Your message</label>');
    expect((await fetch(`${chorus.url}/app.js`)).headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await fetch(`${chorus.url}/style.css`)).headers.get("content-type")).toMatch(/^text\/css/);
    const module = await fetch(`${chorus.url}/js/run.js`);
    expect(module.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(module.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(await module.text()).toContain("export function startRun");
    expect((await fetch(`${chorus.url}/index.html`)).status).toBe(404);
    expect((await fetch(`${chorus.url}/js/missing.js`)).status).toBe(404);
    expect((await fetch(`${chorus.url}/js/..%2Fapp.js`)).status).toBe(404);
    // The API keeps its own headers: the page's policy is not stamped on JSON.
    expect((await fetch(`${chorus.url}/health`)).headers.get("content-security-policy")).toBeNull();
  });
});
