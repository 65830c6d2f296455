// The HTTP assembly: the shared middleware and every route, over the services built by
// services.ts (the composition root). index.ts starts it; tests call createApp directly.
import { Hono } from "hono";
import { ApiError } from "./errors.js";
import type { AppEnv } from "./http/app-env.js";
import { requireApiKey } from "./http/auth.js";
import { corsFor, securityHeaders } from "./http/browser-security.js";
import { clientIp } from "./http/client-key.js";
import { conversationRoutes } from "./http/conversation-routes.js";
import { docsRoutes } from "./http/docs-routes.js";
import { errorBody, onError } from "./http/errors.js";
import { methodNotAllowed } from "./http/method-not-allowed.js";
import { countRequests, metricsRoutes } from "./http/metrics-routes.js";
import { isOpenAiPath, openAiNotFound, openAiOnError } from "./http/openai-errors.js";
import { openAiRoutes } from "./http/openai-routes.js";
import { presetRoutes } from "./http/preset-routes.js";
import { processRoutes } from "./http/process-routes.js";
import { rateLimit } from "./http/rate-limit.js";
import { readinessRoutes } from "./http/readiness.js";
import { requestId } from "./http/request-id.js";
import { streamsStaySent } from "./http/stream-response.js";
import { createStreamQuota } from "./http/stream-quota.js";
import { webPage } from "./http/web-page.js";
import { createServices, type ServiceDeps, type Services } from "./services.js";

export type AppDeps = ServiceDeps;

/** A Chorus process as the server and the tests hold it: the HTTP app and what shutdown needs. */
export type Chorus = Pick<Services, "registry" | "runner" | "state" | "connect" | "close"> & { app: Hono<AppEnv> };

export function createApp(deps: AppDeps): Chorus {
  const services = createServices(deps);
  const { registry, runner, state, connect, close } = services;
  return { app: httpApp(services), registry, runner, state, connect, close };
}

/** Every route and middleware, in order, over `services`. */
function httpApp({ config, prompts, logger, registry, runner, conversations, limiter, metrics, readiness, overloaded, state }: Services) {
  const app = new Hono<AppEnv>();
  const chorusErrors = onError(logger);
  const v1Errors = openAiOnError(logger);
  // /v1/* answers in OpenAI's error shape, also for refusals by the shared middleware below.
  app.onError((err, c) => (isOpenAiPath(c.req.path) ? v1Errors(err, c) : chorusErrors(err, c)));
  app.notFound((c) =>
    isOpenAiPath(c.req.path) ? openAiNotFound(c) : c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404),
  );

  // Before every route, so that each response is counted, carries X-Request-Id and the security headers.
  app.use("*", streamsStaySent(), countRequests(metrics), requestId(), securityHeaders());
  app.route("/", webPage());
  app.get("/health", (c) => c.json({ status: "ok" }));
  app.route("/", metricsRoutes(metrics, config.METRICS_TOKEN));
  app.route("/", readinessRoutes(readiness, state));

  for (const prefix of ["/api/*", "/v1/*"]) {
    // First: a preflight carries no key and must not be refused.
    if (config.CORS_ORIGINS.length) app.use(prefix, corsFor(config.CORS_ORIGINS));
    if (config.API_KEYS.length) app.use(prefix, requireApiKey(config.API_KEYS));
    app.use(prefix, async (c, next) => {
      if (state.draining) throw new ApiError("shutting_down", "the server is shutting down");
      c.set("clientKey", c.get("apiKeyId") ?? clientIp(c, config.TRUST_PROXY));
      await next();
    });
  }
  const limited = rateLimit(limiter, (c) => c.get("clientKey"));
  app.post("/api/process", limited);
  app.post("/v1/chat/completions", limited);

  const agentNames = prompts.agents.map((a) => a.name);
  const presetNames = prompts.presets.map((p) => p.name);
  // What both run surfaces share: the stream quota, the request limits, the SSE timings.
  const surface = {
    registry,
    runner,
    streams: metrics.countStreams(createStreamQuota(config.MAX_STREAMS_PER_CLIENT)),
    maxMessageChars: config.MAX_MESSAGE_CHARS,
    maxBodyBytes: config.MAX_BODY_BYTES,
    heartbeatMs: config.SSE_HEARTBEAT_MS,
    writeTimeoutMs: config.SSE_WRITE_TIMEOUT_MS,
    overloaded,
    presetNames,
  };
  app.route("/", processRoutes({ ...surface, agentNames }));
  app.route("/", openAiRoutes(surface));
  app.route("/", conversationRoutes(conversations));
  app.route("/", presetRoutes(prompts, config.DEFAULT_PRESET));
  app.route("/", docsRoutes({ maxMessageChars: config.MAX_MESSAGE_CHARS, agentNames, presetNames }));
  app.all("*", methodNotAllowed(app)); // last: 405 + Allow for a known path with another method
  return app;
}
