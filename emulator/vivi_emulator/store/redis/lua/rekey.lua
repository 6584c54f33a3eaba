-- Add a channel ('add': only if absent), give one a new key ('set': only if present), or
-- remove one with its current key ('remove': only if present; ARGV[3] is unused).
-- KEYS: keys hash, keys ever used (set), meta hash. ARGV: mode, channel id, key.
local exists = redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1
if (ARGV[1] == 'add' and exists) or (ARGV[1] ~= 'add' and not exists) then
  return 0
end
if ARGV[1] == 'remove' then
  redis.call('SREM', KEYS[2], redis.call('HGET', KEYS[1], ARGV[2]))
  redis.call('HDEL', KEYS[1], ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  redis.call('SADD', KEYS[2], ARGV[3])
end
redis.call('HINCRBY', KEYS[3], 'keys', 1)
return 1
