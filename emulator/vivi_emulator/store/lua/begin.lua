-- Open the next turn of a thread, and read what the request needs, in one step.
-- KEYS: thread hash, threads index (zset), meta hash, global queue, channel queue,
--       global overrides, channel overrides
-- ARGV: the thread's index member, idle time (ms), max threads, thread key prefix
-- Lua tables stop at a nil, so absent values are returned as false (a nil reply).
local t = redis.call('TIME')
-- Microseconds (exact in a double), made strictly increasing so that the least recently used
-- order holds for threads used within one microsecond.
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if top[2] and tonumber(top[2]) >= now then
  now = tonumber(top[2]) + 1
end
local idle = tonumber(ARGV[2])
local turn = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('PEXPIRE', KEYS[1], idle)
-- Least recently used first: threads idle too long have expired by their TTL (their index
-- entries go here), and threads beyond the count bound are evicted, oldest first.
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - idle * 1000)
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if over > 0 then
  local old = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #old, 2 do
    redis.call('UNLINK', ARGV[4] .. old[i])
  end
end
local th = redis.call('HMGET', KEYS[1], 'm', 'r', 'cs', 'cf')
local meta = redis.call('HMGET', KEYS[3], 'keys', 'scenarios')
return {
  turn, th[1] or false, th[2] or false, th[3] or false, th[4] or false,
  meta[1] or false, meta[2] or false,
  redis.call('LLEN', KEYS[4]), redis.call('LLEN', KEYS[5]),
  redis.call('GET', KEYS[6]) or false, redis.call('GET', KEYS[7]) or false,
}
