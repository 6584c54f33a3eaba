-- Keep uploaded files within the byte quota, all or none, for a channel whose generation lasts.
-- KEYS: expiry index (zset id -> expiry ms), sizes (hash id -> bytes), bytes in use, owners
--       (hash id -> channel), generations hash
-- ARGV: lifetime (ms), quota (bytes), key prefix, channel id, generation ('': any), then
--       (id, meta JSON, data) per file
-- Returns {1, bytes in use} when kept, {0, bytes in use} when over the quota, {-1, 0} when the
-- channel's generation ended.
local p, channel = ARGV[3], ARGV[4]
if ARGV[5] ~= '' and redis.call('HGET', KEYS[5], channel) ~= ARGV[5] then
  return {-1, 0}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Forget the accounting of expired files (their keys expired by TTL): only those, never a scan.
-- A file's bytes leave the count only if its size was still there: never twice.
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  local size = tonumber(redis.call('HGET', KEYS[2], id) or '0')
  if redis.call('HDEL', KEYS[2], id) == 1 then
    redis.call('DECRBY', KEYS[3], size)
  end
  local owner = redis.call('HGET', KEYS[4], id)
  if owner then
    redis.call('SREM', p .. 'fc:' .. owner, id)
    redis.call('HDEL', KEYS[4], id)
  end
  redis.call('ZREM', KEYS[1], id)
  redis.call('UNLINK', p .. 'f:' .. id)
end
local used = tonumber(redis.call('GET', KEYS[3]) or '0')
local total = 0
for i = 6, #ARGV, 3 do
  total = total + string.len(ARGV[i + 2])
end
if used + total > tonumber(ARGV[2]) then
  return {0, used}
end
local ttl = tonumber(ARGV[1])
for i = 6, #ARGV, 3 do
  local id, size = ARGV[i], string.len(ARGV[i + 2])
  redis.call('HSET', p .. 'f:' .. id, 'meta', ARGV[i + 1], 'data', ARGV[i + 2])
  redis.call('PEXPIRE', p .. 'f:' .. id, ttl)
  redis.call('ZADD', KEYS[1], now + ttl, id)
  redis.call('HSET', KEYS[2], id, size)
  redis.call('HSET', KEYS[4], id, channel)
  redis.call('SADD', p .. 'fc:' .. channel, id)
end
redis.call('INCRBY', KEYS[3], total)
return {1, used + total}
