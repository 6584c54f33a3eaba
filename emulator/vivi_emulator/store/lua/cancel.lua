-- Give a turn back if no later one was opened. KEYS: thread hash. ARGV: the turn.
if tonumber(redis.call('HGET', KEYS[1], 'n') or '0') == tonumber(ARGV[1]) then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
end
return 1
