-- Keep uploaded files within the byte quota, all or none.
-- KEYS: expiry index (zset id -> expiry ms), sizes (hash id -> bytes), bytes in use
-- ARGV: lifetime (ms), quota (bytes), file key prefix, then (id, meta JSON, data) per file
-- Returns {1, bytes in use} when kept, {0, bytes in use} when over the quota.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Forget the accounting of expired files (their keys expired by TTL): only those, never a scan.
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  local size = tonumber(redis.call('HGET', KEYS[2], id) or '0')
  redis.call('DECRBY', KEYS[3], size)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('UNLINK', ARGV[3] .. id)
end
local used = tonumber(redis.call('GET', KEYS[3]) or '0')
local total = 0
for i = 4, #ARGV, 3 do
  total = total + string.len(ARGV[i + 2])
end
if used + total > tonumber(ARGV[2]) then
  return {0, used}
end
local ttl = tonumber(ARGV[1])
for i = 4, #ARGV, 3 do
  local id, size = ARGV[i], string.len(ARGV[i + 2])
  redis.call('HSET', ARGV[3] .. id, 'meta', ARGV[i + 1], 'data', ARGV[i + 2])
  redis.call('PEXPIRE', ARGV[3] .. id, ttl)
  redis.call('ZADD', KEYS[1], now + ttl, id)
  redis.call('HSET', KEYS[2], id, size)
end
redis.call('INCRBY', KEYS[3], total)
return {1, used + total}
