// Retakes the README's pictures of the web page: a council run while it is in progress and after
// it, in headless Debian chromium (playwright-core) against a real Chorus process with the mock
// LLM. Run: `npx tsx scripts/screenshots.ts` (chromium: `bash test/system-deps.sh chromium=chromium`).
// Writes docs/images/page-council-during.png and docs/images/page-council-after.png.
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { startChorusProcess } from "../test/support/chorus-process.js";

const OUT = "docs/images";
const QUESTION = "Postgres or MongoDB: which database for a small web shop?";

mkdirSync(OUT, { recursive: true });
// Slow enough tokens that the "during" picture catches the agents and reviewers at work.
const chorus = await startChorusProcess({ MOCK_TOKEN_DELAY_MS: "60", RATE_LIMIT_POINTS: "1000" });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  // Light theme at scale 1: readable and small enough to commit.
  const context = await browser.newContext({ viewport: { width: 1100, height: 1000 }, deviceScaleFactor: 1, colorScheme: "light" });
  const page = await context.newPage();
  await page.goto(`${chorus.url}/`);
  await page.locator("#preset option[value=council]").waitFor({ state: "attached" });
  await page.getByLabel("Preset").selectOption("council");
  await page.getByLabel("Stream agent text").check();
  await page.getByLabel("Your message").fill(QUESTION);
  await page.getByRole("button", { name: "Send" }).click();

  // During: every agent has answered and the agents are reviewing each other's answers.
  await page.waitForFunction(() => document.querySelectorAll('#reviews li[data-state="running"]').length === 3, undefined, {
    polling: 10,
    timeout: 60_000,
  });
  // The page's column only: its text then shows at its own size in the README.
  const column = (await page.locator("main").boundingBox())!;
  await page.screenshot({ path: `${OUT}/page-council-during.png`, fullPage: true, clip: { ...column, y: 0, height: column.y + column.height } });

  // After: the aggregate ranking, the summary and the status line with the run's cost.
  await page.locator('#status[data-status="ok"]').waitFor({ timeout: 60_000 });
  // The answers were shown in the first picture: fold them (as a reader would, by clicking) so
  // that this one shows the outcome.
  for (const answer of await page.locator(".lane-output > summary").all()) await answer.click();
  // From the question down: the form above is as in the first picture.
  const top = (await page.locator("#asked").boundingBox())!.y - 16;
  const status = (await page.locator("#status").boundingBox())!;
  await page.screenshot({ path: `${OUT}/page-council-after.png`, fullPage: true, clip: { x: column.x, y: top, width: column.width, height: status.y + status.height + 16 - top } });
  console.log(`wrote ${OUT}/page-council-during.png and ${OUT}/page-council-after.png`);
} finally {
  await browser.close();
  await chorus.stop();
}
