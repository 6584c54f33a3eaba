-- Give a turn back, and set the thread's conversation; nothing if the channel's generation
-- ended (a thread of a channel re-created with the same id is not this request's). A turn
-- given back while a later one is open is marked ('x' .. turn) and goes when the turns above
-- it do, so a thread's turns have no gap but below a kept turn.
-- KEYS: thread hash, generations hash. ARGV: the turn; 'keep', 'clear' or 'set' the
-- conversation; its scenario and first turn (for 'set'); channel id; generation ('': any).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if ARGV[6] ~= '' and redis.call('HGET', KEYS[2], ARGV[5]) ~= ARGV[6] then
  return 0
end
local n, turn = tonumber(redis.call('HGET', KEYS[1], 'n') or '0'), tonumber(ARGV[1])
if n == turn then
  n = n - 1
  while redis.call('HDEL', KEYS[1], 'x' .. n) == 1 do
    n = n - 1
  end
  redis.call('HSET', KEYS[1], 'n', n)
elseif turn < n and turn > tonumber(redis.call('HGET', KEYS[1], 'c') or '0') then
  redis.call('HSET', KEYS[1], 'x' .. turn, 1)
end
if ARGV[2] == 'clear' then
  redis.call('HDEL', KEYS[1], 'cs', 'cf')
elseif ARGV[2] == 'set' then
  redis.call('HSET', KEYS[1], 'cs', ARGV[3], 'cf', ARGV[4])
end
return 1
