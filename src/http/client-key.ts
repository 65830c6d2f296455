// Who is calling, for rate limits: the API key when keys are configured, else the client IP.
// The IP is the socket's peer, or with TRUST_PROXY=N the X-Forwarded-For entry added by the
// N-th trusted proxy counted from the right; entries further left are client-written and ignored.
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";

export function clientIp(c: Context, trustedHops: number): string {
  const peer = getConnInfo(c).remote.address ?? "unknown";
  if (trustedHops === 0) return peer;
  const forwarded = (c.req.header("x-forwarded-for") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const chain = [...forwarded, peer];
  return chain[Math.max(0, chain.length - 1 - trustedHops)]!;
}
