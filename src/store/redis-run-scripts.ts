// The Redis keys of shared runs and the Lua scripts that change them, each script touching the
// keys of one run only (one hash slot: it works on a Redis Cluster). See redis-runs.ts.
export const key = (id: string, part: string) => `chorus:{run:${id}}:${part}`;
export const keys = (id: string) => ["lease", "epoch", "meta", "events", "followers"].map((p) => key(id, p));
/** Runs in flight by lease deadline: where the sweep finds runs whose owner died. */
export const ACTIVE = "chorus:runs:active";
export const CHANNEL = "chorus:runs";
/** In-flight bookkeeping outlives any plausible run; a finished run drops it at once. */
const META_TTL_S = 86_400;

// KEYS: lease epoch meta events followers.
export const SCRIPTS = {
  claim: `local fp = redis.call('HGET', KEYS[3], 'fp')
if fp then return {0, fp} end
redis.call('DEL', KEYS[4], KEYS[5])
local epoch = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ${META_TTL_S})
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. epoch, 'PX', ARGV[2])
redis.call('HSET', KEYS[3], 'fp', ARGV[3], 'req', ARGV[4])
redis.call('EXPIRE', KEYS[3], ${META_TTL_S})
return {1, epoch}`,
  // ARGV: epoch, retention_s, terminal, channel, signal, n_folded, folded ids…, (id, event, data)…
  // The signal is published only when a client follows the run from some replica (its followers
  // set): every replica receives every publish, and most runs are followed only where they run.
  // A follower registers before it first reads the stream, so it misses no event either way.
  append: `if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local followed = redis.call('ZCARD', KEYS[5]) > 0
local nf = tonumber(ARGV[6])
local i = 7 + nf
while i <= #ARGV do
  redis.call('XADD', KEYS[4], '0-' .. ARGV[i], 'e', ARGV[i + 1], 'd', ARGV[i + 2])
  i = i + 3
end
local ids = {}
for j = 7, 6 + nf do ids[#ids + 1] = '0-' .. ARGV[j] end
for s = 1, #ids, 500 do redis.call('XDEL', KEYS[4], unpack(ids, s, math.min(s + 499, #ids))) end
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[1], KEYS[3], KEYS[5])
  redis.call('EXPIRE', KEYS[4], ARGV[2])
end
if followed then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return 1`,
  // ARGV: token, epoch, ttl_ms. 0: another replica owns it; 2: it has ended.
  renew: `if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
if redis.call('EXISTS', KEYS[3]) == 0 then return 2 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`,
  // ARGV: replica, ttl_ms. Exactly one caller wins a lapsed lease.
  takeOver: `if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local req = redis.call('HGET', KEYS[3], 'req')
if not req then return false end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. epoch, 'PX', ARGV[2])
return {epoch, req}`,
};
export type Script = keyof typeof SCRIPTS;
