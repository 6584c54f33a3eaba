-- Add a channel ('add': only if absent) or give one a new key ('set': only if present).
-- KEYS: keys hash, keys ever used (set), meta hash. ARGV: mode, channel id, key.
local exists = redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1
if (ARGV[1] == 'add' and exists) or (ARGV[1] == 'set' and not exists) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('HINCRBY', KEYS[3], 'keys', 1)
return 1
