-- Open the next turn of a thread, and read what the request needs, in one step.
-- ARGV: key prefix, channel id, thread id (lower case), idle time (ms), max threads, the
--       epoch this process knows, the channel's generation the request started in ('': any),
--       the tail of the queue (for any channel, for this one) of this process's copy ('': none).
-- The keys are computed here (fewer arguments to send on the hot path): standalone Redis only.
-- Lua tables stop at a nil, so absent values are returned as false (a nil reply).
-- Refused without a write: {-2, epoch} when Redis is not the one this process seeded (it
-- restarted empty, or was replaced); {-1} when the channel's generation ended (deleted).
local p, channel = ARGV[1], ARGV[2]
local member = channel .. '\0' .. ARGV[3]
local thread, index = p .. 't:' .. member, p .. 'threads'
local idle, max_threads = tonumber(ARGV[4]), tonumber(ARGV[5])
local epoch = redis.call('HGET', p .. 'meta', 'epoch')
if epoch ~= ARGV[6] then
  return {-2, epoch or false}
end
local generation = redis.call('HGET', p .. 'gens', channel)
if ARGV[7] ~= '' and generation ~= ARGV[7] then
  return {-1}
end

local t = redis.call('TIME')
-- Microseconds (exact in a double), made strictly increasing so that the least recently used
-- order holds for threads used within one microsecond.
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local top = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
if top[2] and tonumber(top[2]) >= now then
  now = tonumber(top[2]) + 1
end
local turn = redis.call('HINCRBY', thread, 'n', 1)
-- Messages received, never given back (a cancelled turn is): what chaos draws from.
local attempt = redis.call('HINCRBY', thread, 'a', 1)
redis.call('PEXPIRE', thread, idle)
-- Least recently used first: threads idle too long have expired by their TTL (their index
-- entries go here), and threads beyond the count bound are evicted, oldest first.
redis.call('ZADD', index, now, member)
redis.call('ZREMRANGEBYSCORE', index, '-inf', now - idle * 1000)
local over = redis.call('ZCARD', index) - max_threads
if over > 0 then
  local old = redis.call('ZPOPMIN', index, over)
  for i = 1, #old, 2 do
    redis.call('UNLINK', p .. 't:' .. old[i])
  end
end
-- A scope's queue: {0} when empty; {length, tail} when its tail (the id of the reply pushed
-- last: a random id, so a push always moves it) is the one of the caller's copy, which then
-- holds every reply waiting (and perhaps some claimed since); else {length, tail, ids, JSON}.
local function queue(scope, known)
  local ids = p .. 'q:' .. scope
  local length = redis.call('LLEN', ids)
  if length == 0 then
    return {0}
  end
  local tail = redis.call('LINDEX', ids, -1)
  if tail == known then
    return {length, tail}
  end
  local all = redis.call('LRANGE', ids, 0, -1)
  return {length, tail, all, redis.call('HMGET', p .. 'qd:' .. scope, unpack(all))}
end
local th = redis.call('HMGET', thread, 'm', 'r', 'cs', 'cf')
local meta = redis.call('HMGET', p .. 'meta', 'keys', 'scenarios')
return {
  turn, th[1] or false, th[2] or false, th[3] or false, th[4] or false,
  meta[1] or false, meta[2] or false,
  queue('', ARGV[8]), queue('c:' .. channel, ARGV[9]),
  redis.call('HGETALL', p .. 'ov:'), redis.call('HGETALL', p .. 'ov:c:' .. channel),
  attempt, generation or false,
}
