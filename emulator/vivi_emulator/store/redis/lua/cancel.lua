-- Give a turn back if no later one was opened, and set the thread's conversation; nothing if
-- the channel's generation ended (a thread of a channel re-created with the same id is not
-- this request's).
-- KEYS: thread hash, generations hash. ARGV: the turn; 'keep', 'clear' or 'set' the
-- conversation; its scenario and first turn (for 'set'); channel id; generation ('': any).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if ARGV[6] ~= '' and redis.call('HGET', KEYS[2], ARGV[5]) ~= ARGV[6] then
  return 0
end
if tonumber(redis.call('HGET', KEYS[1], 'n') or '0') == tonumber(ARGV[1]) then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
end
if ARGV[2] == 'clear' then
  redis.call('HDEL', KEYS[1], 'cs', 'cf')
elseif ARGV[2] == 'set' then
  redis.call('HSET', KEYS[1], 'cs', ARGV[3], 'cf', ARGV[4])
end
return 1
