-- Every change of a channel, and what spans one channel's state, each in one step.
-- ARGV: key prefix, mode, the epoch this process knows, then the mode's own:
--   seed:  a new epoch's token, a random first generation, the redacted-keys bound, then
--          (channel id, key) pairs: the configured channels, added where absent
--   add, set, remove: channel id, key ('' for remove), the redacted-keys bound
--   reset, clear_journal: channel id
-- add, set and remove answer -2 when Redis is not the one this process seeded (it restarted
-- empty or was replaced): the caller seeds again, then retries. Otherwise 1 done, 0 refused
-- (add: the channel exists; set, remove: it does not); seed answers the epoch.
local p, mode, known = ARGV[1], ARGV[2], ARGV[3]
local meta, keys, gens, ever = p .. 'meta', p .. 'keys', p .. 'gens', p .. 'everkeys'

-- The keys kept redacted: the most recent first, a key used again moves to the front.
local function remember(key, bound)
  redis.call('LREM', ever, 0, key)
  redis.call('LPUSH', ever, key)
  redis.call('LTRIM', ever, 0, bound - 1)
end

-- A generation is never reused: numbers only go up, from a random start per epoch.
local function new_generation(channel)
  redis.call('HSET', gens, channel, redis.call('HINCRBY', meta, 'genseq', 1))
end

local function clear_journal(channel)
  local journal = p .. 'j'
  for _, row in ipairs(redis.call('XRANGE', journal, '-', '+')) do
    local fields = row[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'c' and fields[i + 1] == channel then
        redis.call('XDEL', journal, row[1])
      end
    end
  end
end

local function reset_channel(channel)
  -- Threads: a walk of the thread index (at most max_threads members).
  local index, head = p .. 'threads', channel .. '\0'
  for _, member in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    if string.sub(member, 1, #head) == head then
      redis.call('ZREM', index, member)
      redis.call('UNLINK', p .. 't:' .. member)
    end
  end
  -- Files: through the channel's own index; bytes leave the count only once.
  local mine = p .. 'fc:' .. channel
  for _, id in ipairs(redis.call('SMEMBERS', mine)) do
    local size = tonumber(redis.call('HGET', p .. 'fsize', id) or '0')
    if redis.call('HDEL', p .. 'fsize', id) == 1 then
      redis.call('DECRBY', p .. 'fbytes', size)
    end
    redis.call('ZREM', p .. 'files', id)
    redis.call('HDEL', p .. 'fown', id)
    redis.call('UNLINK', p .. 'f:' .. id)
  end
  local c = ':c:' .. channel
  redis.call('DEL', mine, p .. 'ov' .. c, p .. 'q' .. c, p .. 'qd' .. c, p .. 'qn' .. c)
  clear_journal(channel)
end

if mode == 'reset' then
  reset_channel(ARGV[4])
  return 1
elseif mode == 'clear_journal' then
  clear_journal(ARGV[4])
  return 1
end

local epoch = redis.call('HGET', meta, 'epoch')
if mode == 'seed' then
  if not epoch then
    epoch = ARGV[4]
    redis.call('HSET', meta, 'epoch', epoch)
    redis.call('HSETNX', meta, 'genseq', ARGV[5])
  end
  if epoch ~= known then
    local bound, changed = tonumber(ARGV[6]), false
    for i = 7, #ARGV, 2 do
      if redis.call('HSETNX', keys, ARGV[i], ARGV[i + 1]) == 1 then
        new_generation(ARGV[i])
        remember(ARGV[i + 1], bound)
        changed = true
      end
    end
    if changed then
      redis.call('HINCRBY', meta, 'keys', 1)
    end
  end
  return epoch
end

if epoch ~= known then
  return -2
end
local channel, key, bound = ARGV[4], ARGV[5], tonumber(ARGV[6])
local exists = redis.call('HEXISTS', keys, channel) == 1
if mode == 'remove' then
  if not exists then
    return 0
  end
  remember(redis.call('HGET', keys, channel), bound) -- a deleted channel's key stays redacted
  redis.call('HDEL', keys, channel)
  redis.call('HDEL', gens, channel)
  reset_channel(channel)
else
  if (mode == 'add') == exists then
    return 0
  end
  redis.call('HSET', keys, channel, key)
  if mode == 'add' then
    new_generation(channel)
  end
  remember(key, bound)
end
redis.call('HINCRBY', meta, 'keys', 1)
return 1
