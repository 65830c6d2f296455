// Serves the browser page (public/: index.html, app.js and its ES modules in js/, style.css) at
// `/`, with a strict Content-Security-Policy: the page loads only its own scripts and style and
// talks only to us.
import { fileURLToPath } from "node:url";
import { serveStatic } from "@hono/node-server/serve-static";
import { Hono, type MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env.js";

/** public/ sits two levels above this module both as src/http/*.ts and as dist/http/*.js. */
export const PUBLIC_DIR = fileURLToPath(new URL("../../public/", import.meta.url));

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  // The inline empty favicon (data:) keeps browsers from asking for /favicon.ico.
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

// Per route, not `use("*")`: mounted at "/", a wildcard middleware would wrap the API too.
const pageHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  c.header("Content-Security-Policy", CSP);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "no-referrer");
  // The files are tiny and change with each release: always revalidate.
  c.header("Cache-Control", "no-cache");
};

export function webPage() {
  const app = new Hono<AppEnv>();
  // Only these names: nothing else in public/ (or beside it) is reachable by path.
  app.get("/", pageHeaders, serveStatic({ root: PUBLIC_DIR, path: "index.html" }));
  app.get("/app.js", pageHeaders, serveStatic({ root: PUBLIC_DIR, path: "app.js" }));
  // The page's modules: plain names only, so no path can climb out of js/.
  app.get("/js/:module{[a-z][a-z-]*\\.js}", pageHeaders, serveStatic({ root: PUBLIC_DIR }));
  app.get("/style.css", pageHeaders, serveStatic({ root: PUBLIC_DIR, path: "style.css" }));
  return app;
}
