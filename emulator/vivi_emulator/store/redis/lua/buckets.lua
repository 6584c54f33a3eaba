-- One rate-limit decision of a channel, in one step (store/buckets.py tells the rule; the
-- in-memory MemoryBuckets is the same rule in Python).
-- ARGV: key prefix, channel id, slot name, requests per minute and burst, tokens per minute and
-- burst (a rate of 0: no such limit), the token cost, the stream cap (-1: not a stream), the
-- stream's scripted seconds, the slot's grace seconds.
-- Redis's clock, not the callers': every process decides on the same time.
-- Numbers go back as strings (Lua numbers are cut to integers in a reply).
local p, channel, slot = ARGV[1], ARGV[2], ARGV[3]
local bucket_key = p .. 'rl:' .. channel
local ends_key, expiry_key = p .. 'rse:' .. channel, p .. 'rsx:' .. channel
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000

local wanted = {
  {'requests', tonumber(ARGV[4]) / 60, tonumber(ARGV[5]), 1},
  {'tokens', tonumber(ARGV[6]) / 60, tonumber(ARGV[7]), tonumber(ARGV[8])},
}
local cap = tonumber(ARGV[9])
local seconds, grace = tonumber(ARGV[10]), tonumber(ARGV[11])

local stored = redis.call('HMGET', bucket_key, 'requests', 'requests_at', 'tokens', 'tokens_at')
local levels, refused, wait, never = {}, {}, 0, false
for i, b in ipairs(wanted) do
  local name, rate, burst, cost = b[1], b[2], b[3], b[4]
  if rate > 0 then
    local level = burst
    if stored[2 * i - 1] then
      local elapsed = math.max(0, now - tonumber(stored[2 * i]))
      level = math.min(burst, tonumber(stored[2 * i - 1]) + elapsed * rate)
    end
    levels[name] = level
    if level < cost then
      table.insert(refused, name)
      if cost > burst then never = true else wait = math.max(wait, (cost - level) / rate) end
    end
  end
end

local running = 0
if cap >= 0 or redis.call('EXISTS', expiry_key) == 1 then
  local gone = redis.call('ZRANGEBYSCORE', expiry_key, '-inf', now)
  if #gone > 0 then
    redis.call('ZREM', expiry_key, unpack(gone))
    redis.call('ZREM', ends_key, unpack(gone))
  end
  running = redis.call('ZCARD', expiry_key)
end
if cap >= 0 and running >= cap then
  table.insert(refused, 'streams')
  if cap == 0 then
    never = true
  else
    local soonest = redis.call('ZRANGE', ends_key, 0, 0, 'WITHSCORES')
    if soonest[2] then wait = math.max(wait, tonumber(soonest[2]) - now) end
  end
end

if #refused == 0 then
  local ttl = 1
  for _, b in ipairs(wanted) do
    local name, rate, burst, cost = b[1], b[2], b[3], b[4]
    if rate > 0 then
      levels[name] = levels[name] - cost
      redis.call('HSET', bucket_key, name, tostring(levels[name]), name .. '_at', tostring(now))
      ttl = math.max(ttl, (burst - levels[name]) / rate + 1)
    end
  end
  -- A full bucket is the same as none: an idle channel's buckets leave by themselves.
  if redis.call('EXISTS', bucket_key) == 1 then
    redis.call('PEXPIRE', bucket_key, math.ceil(ttl * 1000))
  end
  if cap >= 0 then
    local expiry = now + seconds + grace
    redis.call('ZADD', expiry_key, expiry, slot)
    redis.call('ZADD', ends_key, now + seconds, slot)
    -- The slots leave with the one freed last.
    local last = redis.call('ZRANGE', expiry_key, -1, -1, 'WITHSCORES')
    local ttl_ms = math.ceil((tonumber(last[2]) - now) * 1000) + 1000
    redis.call('PEXPIRE', expiry_key, ttl_ms)
    redis.call('PEXPIRE', ends_key, ttl_ms)
    running = running + 1
  end
end

local function level_of(name, i)
  local b = wanted[i]
  if b[2] <= 0 then return false end
  local reset = math.max(0, (b[3] - levels[name]) / b[2])
  return string.format('%.6f', levels[name]) .. ' ' .. string.format('%.6f', reset)
end
-- (Not `never and false or ...`: a false in the middle of and/or picks the other side.)
local retry = string.format('%.6f', wait)
if never then retry = false end
return {
  table.concat(refused, ' '),
  retry,
  level_of('requests', 1), level_of('tokens', 2),
  running,
}
