-- Keep a turn's exchange and the thread's conversation, and record a journal entry.
-- KEYS: thread hash ('' for none), journal stream, journal sequence
-- ARGV: turn, message, reply, conversation scenario ('' for none), its first turn,
--       entry JSON ('' for none), journal size
if KEYS[1] ~= '' and redis.call('EXISTS', KEYS[1]) == 1 then
  local committed = tonumber(redis.call('HGET', KEYS[1], 'c') or '0')
  if tonumber(ARGV[1]) >= committed then
    redis.call('HSET', KEYS[1], 'c', ARGV[1], 'm', ARGV[2], 'r', ARGV[3])
    if ARGV[4] == '' then
      redis.call('HDEL', KEYS[1], 'cs', 'cf')
    else
      redis.call('HSET', KEYS[1], 'cs', ARGV[4], 'cf', ARGV[5])
    end
  end
end
if ARGV[6] ~= '' then
  local id = redis.call('INCR', KEYS[3])
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[7], '*', 'i', id, 'e', ARGV[6])
end
return 1
