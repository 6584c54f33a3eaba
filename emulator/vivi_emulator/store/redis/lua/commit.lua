-- Keep a turn's exchange and the thread's conversation, and record a journal entry; all of it
-- dropped if the channel's generation ended (a request of a deleted channel writes nothing).
-- ARGV: key prefix, the thread's member (channel NUL thread; '' for none), turn, message,
--       reply, conversation scenario ('' for none), its first turn, entry JSON ('' for none),
--       journal size, channel id, generation ('' for any)
local p, member = ARGV[1], ARGV[2]
if ARGV[11] ~= '' and redis.call('HGET', p .. 'gens', ARGV[10]) ~= ARGV[11] then
  return 0
end
if member ~= '' then
  local thread = p .. 't:' .. member
  if redis.call('EXISTS', thread) == 1 then
    local committed = tonumber(redis.call('HGET', thread, 'c') or '0')
    if tonumber(ARGV[3]) >= committed then
      -- Turns given back below the kept one stay gaps: forget their marks.
      for k = committed + 1, math.min(tonumber(ARGV[3]) - 1, committed + 1000) do
        redis.call('HDEL', thread, 'x' .. k)
      end
      redis.call('HSET', thread, 'c', ARGV[3], 'm', ARGV[4], 'r', ARGV[5])
      if ARGV[6] == '' then
        redis.call('HDEL', thread, 'cs', 'cf')
      else
        redis.call('HSET', thread, 'cs', ARGV[6], 'cf', ARGV[7])
      end
    end
  end
end
if ARGV[8] ~= '' then
  local id = redis.call('INCR', p .. 'j:seq')
  -- 'c': the channel, so that a channel's entries are found without parsing each entry.
  redis.call('XADD', p .. 'j', 'MAXLEN', ARGV[9], '*', 'i', id, 'c', ARGV[10], 'e', ARGV[8])
end
return 1
