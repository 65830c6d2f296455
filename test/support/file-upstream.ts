// One mock upstream shared by a test file: its plan and call log are reset after each test, and
// it closes with the file. `start` runs a Chorus on it through the real openai SDK.
import { afterAll, afterEach } from "vitest";
import { startMockUpstream } from "./mock-upstream.js";
import { startChorus } from "./start-chorus.js";

export async function fileUpstream(apiKey: string) {
  const upstream = await startMockUpstream();
  afterAll(() => upstream.close());
  afterEach(() => {
    upstream.setPlanner(() => ({}));
    upstream.calls.length = 0;
  });
  const start = (env: Record<string, string> = {}) =>
    startChorus({ USE_LLM_MOCK: "false", LLM_BASE_URL: upstream.url, LLM_KEY: apiKey, LLM_MAX_RETRIES: "0", ...env });
  return { upstream, start };
}
